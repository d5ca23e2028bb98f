#!/usr/bin/env bash
# The cargo-fuzz targets in fuzz/ (decoder, hub, auth), each run briefly
# (FUZZ_SECONDS, default 40 s) from the seeds in fuzz/seeds and the local
# corpus in fuzz/corpus (not in git). A crash fails the suite and leaves the
# input in fuzz/artifacts/<target>/. Installs cargo-fuzz when missing; skips,
# passing, when the nightly toolchain is absent. Longer runs: fuzz/README.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"

seconds=${FUZZ_SECONDS:-40}
targets=(decoder hub auth)

toolchains=$(rustup toolchain list 2>/dev/null || true)
if ! grep -q '^nightly' <<<"$toolchains"; then
    echo "fuzz.sh: note: no nightly toolchain, which cargo-fuzz needs; skipping" \
        "(install it with: rustup toolchain install nightly)"
    echo "fuzz: 0 passed, 0 failed, ${#targets[@]} skipped"
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    # No --locked: the registry mirror here lags and the locked set fails.
    cargo install cargo-fuzz || { echo "fuzz.sh: cargo install cargo-fuzz failed" >&2; exit 1; }
fi

# Without AddressSanitizer: the core forbids unsafe, and it runs ~4x faster.
fuzz=(cargo +nightly fuzz run --fuzz-dir fuzz --sanitizer none)
if ! cargo +nightly fuzz build --fuzz-dir fuzz --sanitizer none; then
    echo "fuzz.sh: the fuzz targets do not build" >&2
    echo "fuzz: 0 passed, ${#targets[@]} failed"
    exit 1
fi

passed=0
failed=0
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    log=$(mktemp)
    echo "fuzz.sh: $target for ${seconds} s"
    if "${fuzz[@]}" "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
        echo "fuzz.sh: $target passed: ${runs:-?} runs (${rate:-?}/s), corpus $corpus inputs, no crash"
        passed=$((passed + 1))
    else
        echo "fuzz.sh: $target FAILED; the end of its output:" >&2
        # The panic, the input as Debug and how to reproduce it.
        grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse)' "$log" | tail -n 80 >&2
        failed=$((failed + 1))
    fi
    rm -f "$log"
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
