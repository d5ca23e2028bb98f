#!/usr/bin/env bash
# Runs every tcphub test suite, installing what each needs first (wasm
# target, wasm-bindgen CLI, a Python venv with maturin and pytest, Chromium,
# redis-server for the cluster tests, cargo-fuzz; the fuzz suite skips
# without the nightly toolchain).
# Safe to run again: installs are skipped when already present.
#
#   tests/run_all.sh            every suite
#   tests/run_all.sh rust wasm  only those suites
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

all=(rust native python wasm fuzz)
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=("${all[@]}")

passed=0
failed=0
failed_names=()
for suite in "${suites[@]}"; do
  script="tests/suites/$suite.sh"
  echo
  echo "=== suite: $suite ($(date -u +%H:%M:%S)) ==="
  if [ ! -f "$script" ]; then
    echo "missing $script"
    failed=$((failed + 1)); failed_names+=("$suite"); continue
  fi
  start=$SECONDS
  if bash "$script"; then
    passed=$((passed + 1))
    echo "=== suite $suite passed in $((SECONDS - start)) s ==="
  else
    failed=$((failed + 1)); failed_names+=("$suite")
    echo "=== suite $suite FAILED after $((SECONDS - start)) s ==="
  fi
done

echo
[ $failed -eq 0 ] || echo "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
