#!/usr/bin/env bash
# Interoperability with Cobo's official Python SDK (cobo-waas2): the SDK gets and refreshes
# tokens from our mock server (which checks its real signatures), and our signatures
# (the `cobo-oauth sign` command) equal the SDK's for the same inputs.
# The SDK lives in its own venv, target/interop-venv, reused while
# tests/interop/requirements.txt and the interpreter are unchanged. Our wheel is
# (re)installed there for the cobo_oauth.waas2 adapter tests only; the signature tests
# compare the SDK with the `cobo-oauth` command, not with the package.
# Runs from a fresh clone, as root, with no stdin. Usage: bash tests/interop/run.sh [pytest args...]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$REPO/target/interop-venv"
REQUIREMENTS="$REPO/tests/interop/requirements.txt"
cd "$REPO"

echo "== cobo-oauth CLI and mock server (release)"
cargo build --release -p cobo-oauth-cli -p cobo-oauth-mock </dev/null

# The venv is reused only if it was completed for exactly these requirements.
wanted="$("$PYTHON" --version 2>&1) $(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [ "$(cat "$VENV/.interop-requirements" 2>/dev/null)" = "$wanted" ]; then
    echo "== venv $VENV (reused: requirements unchanged)"
else
    echo "== venv $VENV (fresh) with $(grep -v '^#' "$REQUIREMENTS" | xargs)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" </dev/null
    echo "$wanted" > "$VENV/.interop-requirements"
fi

# The wheel `make test-python` built is reused when nothing it is built from is newer.
WHEEL="$(ls "$REPO"/target/py-wheels/cobo_oauth-*.whl 2>/dev/null | head -n 1 || true)"
if [ -z "$WHEEL" ] || [ -n "$(find bindings-python/src bindings-python/python bindings-python/Cargo.toml bindings-python/pyproject.toml core/src core/Cargo.toml core/build.rs Cargo.lock -newer "$WHEEL" -type f -print -quit)" ]; then
    echo "== cobo_oauth wheel (maturin) for the cobo_waas2 adapter tests"
    rm -rf "$REPO/target/interop-wheels"
    (cd bindings-python && "$VENV/bin/maturin" build --release --out "$REPO/target/interop-wheels" </dev/null)
    WHEEL="$(ls "$REPO"/target/interop-wheels/cobo_oauth-*.whl | head -n 1)"
else
    echo "== cobo_oauth wheel: reusing $WHEEL"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps --no-index "$WHEEL" </dev/null

export COBO_OAUTH_CLI="$REPO/target/release/cobo-oauth"
export COBO_OAUTH_MOCK="$REPO/target/release/cobo-oauth-mock"
export COBO_OAUTH_VECTORS="$REPO/tests/vectors/signing.json"
export PYTHONDONTWRITEBYTECODE=1
echo "== pytest: cobo-waas2 $("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("cobo-waas2"))') against cobo-oauth"
"$VENV/bin/python" -m pytest -p no:cacheprovider --rootdir tests/interop tests/interop "$@" </dev/null
