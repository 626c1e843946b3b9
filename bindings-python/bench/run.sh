#!/usr/bin/env bash
# Benchmarks: signing (cobo_oauth vs the official SDK cobo-waas2 vs PyNaCl + hashlib) and
# token round trips against the mock server (cobo_oauth vs cobo-waas2).
# Builds the wheel, installs it with cobo-waas2 into target/py-bench-venv (fresh each
# run) and runs bench_sign.py and bench_token.py. Usage: bash bindings-python/bench/run.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$REPO/target/py-bench-venv"
WHEELS="$REPO/target/py-bench-wheels"
PIP=(-m pip install --quiet --disable-pip-version-check)
cd "$REPO"

rm -rf "$VENV" "$WHEELS"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" "${PIP[@]}" "maturin>=1.9.4,<2" </dev/null
if ! "$VENV/bin/python" "${PIP[@]}" cobo-waas2 </dev/null; then
    echo "cobo-waas2 could not be installed; benchmarking against PyNaCl only" >&2
    "$VENV/bin/python" "${PIP[@]}" pynacl </dev/null
fi
(cd bindings-python && "$VENV/bin/maturin" build --release --out "$WHEELS" </dev/null)
"$VENV/bin/python" "${PIP[@]}" --no-index "$WHEELS"/cobo_oauth-*.whl </dev/null

cargo build --release -p cobo-oauth-mock </dev/null

# Outside the source tree, so `import cobo_oauth` is the installed wheel.
RUN_DIR="$(mktemp -d)"
trap 'rm -rf "$RUN_DIR"' EXIT
cd "$RUN_DIR"
"$VENV/bin/python" "$REPO/bindings-python/bench/bench_sign.py"
"$VENV/bin/python" "$REPO/bindings-python/bench/bench_token.py" "$REPO/target/release/cobo-oauth-mock"
