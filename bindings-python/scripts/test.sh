#!/usr/bin/env bash
# Builds the release wheel (manylinux2014: glibc 2.17, linked with zig), checks its tag
# with auditwheel, installs it into a fresh venv and tests the installed package:
# stubtest (mypy) and pytest against the mock server. Runs from a fresh clone, as root,
# with no stdin. Usage: bash bindings-python/scripts/test.sh [pytest args...]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$REPO/target/py-venv"
WHEELS="$REPO/target/py-wheels"
cd "$REPO"

echo "== venv $VENV (fresh) with maturin, zig, auditwheel, pytest, mypy, uvloop, gunicorn, uvicorn"
rm -rf "$VENV" "$WHEELS"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" ziglang==0.15.2 \
    auditwheel==6.8.2 pytest mypy </dev/null
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check httpx requests types-requests </dev/null  # the hooks' extras
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check uvloop==0.23.0 </dev/null  # the async tests run on it too
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check redis==6.4.0 </dev/null  # test_tokens_at_rest.py reads Redis raw
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check gunicorn==27.0.1 uvicorn==0.54.0 </dev/null  # test_deploy.py: the servers users deploy behind

echo "== mock server and the cobo-oauth command (the README's walkthrough runs both)"
cargo build --release -p cobo-oauth-mock -p cobo-oauth-cli </dev/null

# Linked by zig against glibc 2.17's symbols: the wheel installs on any x86-64 Linux from
# CentOS 7 on, not only on distributions as new as this machine (glibc 2.36).
echo "== wheel (maturin build --profile dist --zig, manylinux2014)"
(cd bindings-python && PATH="$VENV/bin:$PATH" "$VENV/bin/maturin" build --profile dist --zig \
    --compatibility manylinux2014 --out "$WHEELS" </dev/null)
echo "== auditwheel show"
"$VENV/bin/auditwheel" show "$WHEELS"/cobo_oauth-*.whl | tee "$WHEELS/auditwheel.txt"
# auditwheel wraps its lines: read the tag from the text joined into one line.
tag=$(tr -s '\n ' '  ' <"$WHEELS/auditwheel.txt" | sed -n 's/.*consistent with the following platform tag: "\([^"]*\)".*/\1/p')
glibc_minor=$(printf '%s' "$tag" | sed -n 's/^manylinux_2_\([0-9]*\)_x86_64$/\1/p')
[ -n "$glibc_minor" ] && [ "$glibc_minor" -le 17 ] ||
    { echo "auditwheel: the wheel's tag is '$tag', not manylinux2014 (glibc 2.17) or older" >&2; exit 1; }
echo "auditwheel: $tag (manylinux2014 or older): ok"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$WHEELS"/cobo_oauth-*.whl </dev/null

# From a directory outside the source tree, so `import cobo_oauth` is the installed wheel.
RUN_DIR="$(mktemp -d)"
trap 'rm -rf "$RUN_DIR"' EXIT
cd "$RUN_DIR"
"$VENV/bin/python" -c 'import cobo_oauth, sys; assert "site-packages" in cobo_oauth.__file__, cobo_oauth.__file__; print("testing", cobo_oauth.__file__)'

echo "== stubtest"
"$VENV/bin/python" -m mypy.stubtest cobo_oauth


export COBO_OAUTH_MOCK="$REPO/target/release/cobo-oauth-mock"
export COBO_OAUTH_RELEASE_DIR="$REPO/target/release"
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
    # The HTTP hooks' libraries too, so no test module is skipped; the deploy tests
    # (gunicorn, uvicorn) run on the newest Python only.
    "$VENV-3.9/bin/python" -m pip install --quiet --disable-pip-version-check pytest requests httpx redis==6.4.0 "$WHEELS"/cobo_oauth-*.whl </dev/null
    "$VENV-3.9/bin/python" "${PYTEST[@]}" -q -m "not soak" --ignore "$REPO/bindings-python/tests/test_deploy.py" </dev/null
else
    echo "== no CPython 3.9 on this machine: the abi3 floor is not exercised"
fi

echo "== pytest on $("$VENV/bin/python" --version)"
"$VENV/bin/python" "${PYTEST[@]}" "$@" </dev/null
