#!/usr/bin/env bash
# Workspace hygiene and the core crate: formatting, lints, core tests
# (unit, scenario, split points, properties, doc tests), and the core's
# build for wasm32, which proves it stays free of IO.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"

rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

cargo fmt --all -- --check
# No module of the core, the server or the bench depends on a module that depends on it.
python3 tests/tools/module_graph.py core/src/lib.rs native/src/lib.rs native/src/main.rs bench/src/lib.rs bench/src/main.rs python/src/lib.rs wasm/src/lib.rs
cargo clippy --workspace --all-targets -- -D warnings
cargo test -p tcphub-core
cargo build -p tcphub-core --target wasm32-unknown-unknown
# The core must not depend on anything that does IO.
if cargo tree -p tcphub-core -e normal --prefix none | grep -Eq '^(tokio|pyo3|wasm-bindgen|mio|socket2|getrandom|rand) '; then
  echo "tcphub-core depends on an IO, binding or randomness crate:" >&2
  cargo tree -p tcphub-core -e normal --prefix none | sort -u >&2
  exit 1
fi
