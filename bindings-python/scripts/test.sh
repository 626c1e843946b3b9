#!/usr/bin/env bash
# Builds the cobo_oauth wheel, installs it into a fresh venv and tests the installed
# package: stubtest (mypy) and pytest against the mock server. Runs from a fresh clone,
# as root, with no stdin. Usage: bash bindings-python/scripts/test.sh [pytest args...]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$REPO/target/py-venv"
WHEELS="$REPO/target/py-wheels"
cd "$REPO"

echo "== venv $VENV (fresh) with maturin, pytest, mypy"
rm -rf "$VENV" "$WHEELS"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" pytest mypy </dev/null
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check httpx requests types-requests </dev/null  # the hooks' extras

echo "== mock server"
cargo build --release -p cobo-oauth-mock </dev/null

echo "== wheel (maturin build --release)"
(cd bindings-python && "$VENV/bin/maturin" build --release --out "$WHEELS" </dev/null)
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$WHEELS"/cobo_oauth-*.whl </dev/null

# From a directory outside the source tree, so `import cobo_oauth` is the installed wheel.
RUN_DIR="$(mktemp -d)"
trap 'rm -rf "$RUN_DIR"' EXIT
cd "$RUN_DIR"
"$VENV/bin/python" -c 'import cobo_oauth, sys; assert "site-packages" in cobo_oauth.__file__, cobo_oauth.__file__; print("testing", cobo_oauth.__file__)'

echo "== stubtest"
"$VENV/bin/python" -m mypy.stubtest cobo_oauth


export COBO_OAUTH_MOCK="$REPO/target/release/cobo-oauth-mock"
PYTEST=(-m pytest -p no:cacheprovider --rootdir "$REPO/bindings-python/tests" "$REPO/bindings-python/tests")

# The wheel is abi3 for CPython >= 3.9: when a 3.9 interpreter is on the machine (pyenv
# has one here), the same wheel and tests run on it too.
PY39=""
for candidate in python3.9 "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/3.9*/bin/python3.9; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 9)' >/dev/null 2>&1; then
        PY39="$candidate"
        break
    fi
done
if [ -n "$PY39" ]; then
    echo "== pytest on $("$PY39" --version) (the abi3 floor)"
    rm -rf "$VENV-3.9"
    "$PY39" -m venv "$VENV-3.9"
    "$VENV-3.9/bin/python" -m pip install --quiet --disable-pip-version-check pytest "$WHEELS"/cobo_oauth-*.whl </dev/null
    "$VENV-3.9/bin/python" "${PYTEST[@]}" -q </dev/null
else
    echo "== no CPython 3.9 on this machine: the abi3 floor is not exercised"
fi

echo "== pytest on $("$VENV/bin/python" --version)"
"$VENV/bin/python" "${PYTEST[@]}" "$@" </dev/null
