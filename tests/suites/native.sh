#!/usr/bin/env bash
# The native crate's tests: the server library, the `tcphub` binary and the
# tutorial's Node.js clients against it (run when `node` is present, which
# CI's machine has), and the cluster over Redis. Needs cargo, and
# redis-server, which it installs with apt-get when missing (CI runs as
# root on a clean machine; the tests start their own on free ports).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "native.sh: cargo is required (rustup, Rust 1.85 or later)" >&2
    exit 1
fi
if ! command -v redis-server >/dev/null 2>&1; then
    echo "native.sh: installing redis-server for the cluster tests" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
fi
if ! command -v jq >/dev/null 2>&1; then
    # native/tests/cli_docs.rs runs the docs' `tcphub sub | jq` as written.
    echo "native.sh: installing jq for the docs' shell sessions" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq
fi
if ! command -v node >/dev/null 2>&1; then
    echo "native.sh: note: node not found; the Node.js compatibility test will be skipped" >&2
fi

cargo test -p tcphub-native --all-targets
cargo test -p tcphub-native --doc
# The load generator: unit tests, and smoke runs against an in-process server
# whose deliveries and report figures must add up.
cargo test -p tcphub-bench --all-targets
