#!/usr/bin/env bash
# arm64 Linux, here: builds the manylinux2014_aarch64 abi3 wheel (maturin --zig, checked
# by auditwheel) and tests it in an arm64 Debian chroot run by qemu-user
# (scripts/arm64-chroot.sh, cached): the wheel installed in the chroot's Python, pytest
# against the mock. The mock is the host's x86-64 build, run natively (its loader and
# libraries copied into the chroot's x86-64 multiarch paths: arm64-stage-mock.sh) on the
# shared loopback. The jar's library on an arm64 JVM: test-arm64-jvm.sh.
#
#   test-arm64.sh smoke   the wheel; the signing vectors and the client's get/refresh
#   test-arm64.sh full    also the jar's linux-aarch64/libcobo_oauth.so (glibc 2.17 floor
#                         checked) and the manager (file store) and fault-matrix tests
set -euo pipefail

mode=${1:-smoke}
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
triple=aarch64-unknown-linux-gnu
out="$repo/target/arm64"
cd "$repo"
case "$mode" in
    smoke) tests=(test_vectors.py test_client.py) ;;
    full) tests=(test_vectors.py test_client.py test_manager.py test_faults.py) ;;
    *) echo "usage: test-arm64.sh smoke|full" >&2; exit 2 ;;
esac
bash scripts/rust-target.sh "$triple"
root=$(bash scripts/arm64-chroot.sh)

venv="$repo/target/arm64-venv"
pins='maturin>=1.9.4,<2 ziglang==0.15.2 auditwheel==6.8.2'
if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ]; then
    rm -rf "$venv" && python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pins </dev/null
    echo "$pins" >"$venv/.pins"
fi
rm -rf "$out" && mkdir -p "$out/wheels"

echo "== aarch64 wheel (maturin build --profile dist --zig, manylinux2014)"
# Its own cargo target dir: maturin --zig and cargo-zigbuild (the jar's library,
# build-native.sh) set up the aarch64 target differently, and in one target dir each
# recompiled every crate the other had built (128 crates, minutes, on every run).
(cd bindings-python && PATH="$venv/bin:$PATH" "$venv/bin/maturin" build --profile dist --zig \
    --target "$triple" --compatibility manylinux2014 --target-dir "$repo/target/arm64-wheel" \
    --out "$out/wheels" </dev/null)
wheel=$(ls "$out"/wheels/cobo_oauth-*-cp39-abi3-*aarch64*.whl)
"$venv/bin/auditwheel" show "$wheel" | tr -s '\n ' '  ' >"$out/auditwheel.txt"
tag=$(sed -n 's/.*consistent with the following platform tag: "\([^"]*\)".*/\1/p' "$out/auditwheel.txt")
minor=$(printf '%s' "$tag" | sed -n 's/^manylinux_2_\([0-9]*\)_aarch64$/\1/p')
[ -n "$minor" ] && [ "$minor" -le 17 ] || { echo "auditwheel: tag '$tag', not manylinux2014_aarch64" >&2; exit 1; }
echo "auditwheel: $tag (manylinux2014 or older): ok"

if [ "$mode" = full ]; then
    echo "== the jar's linux-aarch64/libcobo_oauth.so"
    bash bindings-kotlin/build-native.sh "$out/native/linux-aarch64" "$triple"
fi

echo "== mock (host, x86-64) and tests staged in the chroot"
stage="$root/opt/cobo-oauth"
rm -rf --one-file-system "$stage"
bash scripts/arm64-stage-mock.sh "$root" /opt/cobo-oauth
mkdir -p "$stage/bindings-python" "$stage/tests"
cp -r bindings-python/tests "$stage/bindings-python/"
cp -r tests/vectors tests/faults.json "$stage/tests/"
cp "$wheel" "$stage/"

mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || umount -l "$root/proc"' EXIT
echo "== pytest under qemu-aarch64 (chroot $root): ${tests[*]}"
chroot "$root" /bin/sh -euc '
    cd /opt/cobo-oauth
    python3 -m venv --system-site-packages venv
    venv/bin/python -m pip install --quiet --disable-pip-version-check --no-index ./cobo_oauth-*.whl
    cd /tmp
    venv=/opt/cobo-oauth/venv/bin/python
    $venv -c "import cobo_oauth, platform; print(\"testing\", cobo_oauth.__file__, \"on\", platform.machine())"
    tests=/opt/cobo-oauth/bindings-python/tests
    COBO_OAUTH_MOCK=/opt/cobo-oauth/cobo-oauth-mock exec $venv -m pytest -p no:cacheprovider \
        --rootdir "$tests" "$@"
' sh "${tests[@]/#//opt/cobo-oauth/bindings-python/tests/}" </dev/null
