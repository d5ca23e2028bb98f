#!/usr/bin/env bash
# The Python package: builds it with `pip install .` into a virtual
# environment (.venv at the repo root, created once and reused), then runs
# its pytest suite (python/tests) against the installed package, as a user
# would have it, after type-checking the package and examples with mypy.
# Needs python3 (3.9 or later) and cargo.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
VENV=.venv

for tool in "$PYTHON" cargo; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "python.sh: $tool is required" >&2
        exit 1
    fi
done

# A venv left half-made (or made by another Python) is rebuilt.
if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

"$PY" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" pytest pytest-timeout mypy

# A native module left in the source tree by `maturin develop` must not be
# packaged or imported instead of the fresh build.
rm -f python/tcphub/_tcphub*.so python/tcphub/_tcphub*.pyd
# --force-reinstall: the version number does not change between builds, so
# without it pip could keep an older build installed.
"$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps .

# Prove the tests will exercise what was just built: the package imports
# from the venv, and its Python files are the ones in the tree.
"$PY" - <<'CHECK'
import filecmp, pathlib, sys
import tcphub
installed = pathlib.Path(tcphub.__file__).parent
source = pathlib.Path("python/tcphub").resolve()
if installed.resolve() == source or "site-packages" not in str(installed):
    sys.exit(f"python.sh: tcphub imports from {installed}, not the installed build")
names = [p.name for p in source.glob("*.py*")]
_, mismatch, missing = filecmp.cmpfiles(source, installed, names, shallow=False)
if mismatch or missing:
    sys.exit(f"python.sh: installed package is stale: {mismatch + missing}")
print(f"python.sh: testing tcphub {tcphub.__version__} from {installed}")
CHECK

# The stubs and annotations hold up: the package and the examples type-check.
(cd python && "../$PY" -m mypy --strict --cache-dir=/dev/null tcphub examples)

set +e
"$PY" -m pytest -p no:cacheprovider python/tests "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "python.sh: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$status"
