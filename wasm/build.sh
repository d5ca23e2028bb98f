#!/usr/bin/env bash
# Builds the simulator: wasm/www/pkg for the page (--target web) and
# wasm/pkg for Node (--target nodejs). Needs the wasm32 target and
# wasm-bindgen-cli 0.2.130 (tests/suites/wasm.sh installs both); shrinks the
# .wasm with wasm-opt when it is there (npm's binaryen, from `npm ci` in
# wasm/, or a wasm-opt on PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"

cargo build -p tcphub-wasm --target wasm32-unknown-unknown --profile wasm-release
# Where cargo puts it: CARGO_TARGET_DIR when set (a worktree of its own).
raw="${CARGO_TARGET_DIR:-$root/target}/wasm32-unknown-unknown/wasm-release/tcphub_wasm.wasm"

wasm-bindgen --target web --out-dir "$here/www/pkg" "$raw"
wasm-bindgen --target nodejs --out-dir "$here/pkg" "$raw"

wasm_opt=""
if [ -x "$here/node_modules/.bin/wasm-opt" ]; then
    wasm_opt="$here/node_modules/.bin/wasm-opt"
elif command -v wasm-opt >/dev/null 2>&1; then
    wasm_opt="$(command -v wasm-opt)"
fi
# The features rustc enables by default for wasm32-unknown-unknown.
features=(--enable-bulk-memory --enable-mutable-globals --enable-multivalue
          --enable-nontrapping-float-to-int --enable-reference-types --enable-sign-ext)
# --low-memory-unused lets wasm-opt fold constant offsets into loads and
# stores (2.4 KB smaller): it assumes nothing lives in the first 1 KB of
# memory, true here because rustc puts the 1 MB stack first, growing down
# toward address 0, and the data above it.
for out in "$here/www/pkg/tcphub_wasm_bg.wasm" "$here/pkg/tcphub_wasm_bg.wasm"; do
    if [ -n "$wasm_opt" ]; then
        "$wasm_opt" -Oz "${features[@]}" --low-memory-unused --strip-debug --strip-producers \
            "$out" -o "$out.opt"
        mv "$out.opt" "$out"
    fi
done
if [ -z "$wasm_opt" ]; then
    echo "note: no wasm-opt found (run npm ci in wasm/); the .wasm is unoptimized" >&2
fi
size=$(wc -c <"$here/www/pkg/tcphub_wasm_bg.wasm")
echo "built wasm/www/pkg and wasm/pkg; tcphub_wasm_bg.wasm is $size bytes ($((size / 1024)) KiB)"
