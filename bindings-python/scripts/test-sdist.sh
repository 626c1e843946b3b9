#!/usr/bin/env bash
# The sdist a user without a matching wheel gets: `maturin sdist`, then `pip install` of
# that file alone in a fresh venv (pip fetches maturin from PyPI and compiles the Rust
# core with the machine's cargo), then the installed package signs a vector correctly.
# Then the same for the README's "pip install ./bindings-python", run from the clone's root.
# The build reuses target/ (CARGO_TARGET_DIR) for the crates make build compiled; from a
# fresh clone it is a cold release build, minutes on 2 cores, hence not part of `make test`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
OUT="$REPO/target/py-sdist"
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== sdist (maturin sdist)"
"$PYTHON" -m venv "$OUT/build-venv"
"$OUT/build-venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" </dev/null
(cd "$REPO/bindings-python" && "$OUT/build-venv/bin/maturin" sdist --out "$OUT" </dev/null)
sdist=$(ls "$OUT"/cobo_oauth-*.tar.gz)
tar -tzf "$sdist" | grep '/LICENSE$' >/dev/null ||  # not -q: under pipefail, tar must finish { echo "the sdist has no LICENSE" >&2; exit 1; }

echo "== pip install $(basename "$sdist") in a fresh venv (builds the core)"
"$PYTHON" -m venv "$OUT/venv"
CARGO_TARGET_DIR="$REPO/target" "$OUT/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-binary cobo-oauth "$sdist" </dev/null

# The README's one-line install, as written, from the clone's root.
echo "== pip install ./bindings-python in a fresh venv (bindings-python/README.md, Install)"
"$PYTHON" -m venv "$OUT/venv-readme"
(cd "$REPO" && CARGO_TARGET_DIR="$REPO/target" "$OUT/venv-readme/bin/pip" install --quiet --disable-pip-version-check \
    ./bindings-python </dev/null)

cd "$OUT"
for venv in venv venv-readme; do
VECTORS="$REPO/tests/vectors" "$OUT/$venv/bin/python" - <<'PY'
import json, os, pathlib, sys
import cobo_oauth
assert "site-packages" in cobo_oauth.__file__, cobo_oauth.__file__
cases = json.loads((pathlib.Path(os.environ["VECTORS"]) / "signing.json").read_text())["cases"]
for case in cases:
    signed = cobo_oauth.AppKey(case["private_key_hex"]).sign_request_with_nonce(
        case["method"], case["path"], case["query"], case["body"], case["nonce"])
    assert signed.signature == case["signature"], case["name"]
print(f"{os.path.basename(sys.prefix)}: ok, the installed package signs all {len(cases)} vectors correctly")
PY
done
