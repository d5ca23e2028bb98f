#!/usr/bin/env bash
# The browser simulator (wasm/): installs what is missing (the wasm32
# target, wasm-bindgen-cli at the version the crate pins, the npm packages of
# wasm/package-lock.json, Debian's Chromium and a CJK font for legible
# screenshots), builds the .wasm for the page and for Node, then runs the
# simulator's native tests, the Node tests of the wasm build (which compare
# its traces byte for byte with the native golden traces) and the page's
# test in headless Chromium. Safe to run again: installs are skipped when
# already present. Screenshots go to tests/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"

for tool in cargo rustup node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "wasm.sh: $tool is required (Rust via rustup; Node 20 with npm)" >&2
        exit 1
    fi
done

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# The CLI must be exactly the version of the wasm-bindgen crate.
want=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"$/\1/p' Cargo.toml)
if [ -z "$want" ]; then
    echo "wasm.sh: no pinned wasm-bindgen = \"=X.Y.Z\" in Cargo.toml" >&2
    exit 1
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $want" ]; then
    # No --locked: the registry mirror here lags and the locked set fails.
    cargo install wasm-bindgen-cli --version "$want"
fi

apt_updated=0
apt_install() {
    if [ $apt_updated -eq 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || apt_install chromium
# Without a CJK font the page works but its screenshots show boxes.
if command -v fc-list >/dev/null 2>&1 && ! fc-list :lang=zh | grep -q .; then
    apt_install fonts-wqy-microhei || echo "wasm.sh: note: no CJK font; screenshots will show boxes" >&2
fi

# playwright-core never downloads a browser; the variable makes sure.
(cd wasm && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

wasm/build.sh

cargo test -p tcphub-wasm --all-targets
cargo test -p tcphub-wasm --doc
cargo clippy -p tcphub-wasm --target wasm32-unknown-unknown -- -D warnings
(cd wasm && node --test tests/node/)
(cd wasm && CHROMIUM="$CHROMIUM" node --test tests/browser/)
