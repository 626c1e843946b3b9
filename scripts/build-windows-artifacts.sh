#!/usr/bin/env bash
# Builds what ships for Windows (x86-64): the abi3 wheel (win_amd64, maturin) and the jar's
# win32-x86-64/cobo_oauth.dll (bindings-kotlin/build-native.sh). Cross-built here with
# mingw-w64; no Python or JVM runs them here: on Windows only the Rust suite is tested,
# under wine (scripts/test-windows.sh). Checks that the wheel holds the module, tagged
# win_amd64 and abi3, and that both are PE DLLs for x86-64.
#
#   build-windows-artifacts.sh      (writes target/windows/{wheels,native/win32-x86-64})
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
triple=x86_64-pc-windows-gnu
out="$repo/target/windows"
cd "$repo"
bash scripts/rust-target.sh "$triple"
rm -rf "$out" && mkdir -p "$out/wheels"

echo "== win_amd64 abi3 wheel (maturin, $triple)"
venv="$repo/target/maturin-venv"
[ -x "$venv/bin/maturin" ] || { python3 -m venv "$venv" && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" </dev/null; }
(cd bindings-python && "$venv/bin/maturin" build --profile dist --target "$triple" --out "$out/wheels" </dev/null)
wheel=$(ls "$out"/wheels/cobo_oauth-*-cp39-abi3-win_amd64.whl)
python3 - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
assert "cobo_oauth/_native.pyd" in names, names
print("wheel:", sys.argv[1].rsplit("/", 1)[-1], "holds cobo_oauth/_native.pyd: ok")
PY

echo "== the jar's win32-x86-64/cobo_oauth.dll"
bash bindings-kotlin/build-native.sh "$out/native/win32-x86-64" "$triple"
for dll in "$out/native/win32-x86-64/cobo_oauth.dll"; do
    objdump -f "$dll" | grep -q 'file format pei-x86-64' || { echo "$dll is not a PE x86-64 DLL" >&2; exit 1; }
    echo "$(basename "$dll"): PE x86-64: ok"
done
