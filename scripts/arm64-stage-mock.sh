#!/usr/bin/env bash
# Copies the host's x86-64 mock server into the arm64 chroot, with its loader and libraries
# in the chroot's x86-64 multiarch paths: the chroot's kernel runs it natively (only arm64
# binaries go through qemu), so the mock costs no emulation. Used by test-arm64.sh and
# test-arm64-jvm.sh.
#
#   arm64-stage-mock.sh <chroot root> <directory inside it, e.g. /opt/cobo-oauth>
set -euo pipefail

root=$1
dest=$root$2
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mock="$repo/target/release/cobo-oauth-mock"
# `make build`, not a build of the mock alone: the same features as every other suite's,
# so no rebuild here (and none back after).
make -s -C "$repo" build </dev/null
mkdir -p "$dest" "$root/lib64" "$root/lib/x86_64-linux-gnu"
cp "$mock" "$dest/"
for lib in $(ldd "$mock" | grep -o '/[^ ]*'); do
    case "$lib" in
        */ld-linux-x86-64.so.2) cp -L "$lib" "$root/lib64/" ;;
        *) cp -L "$lib" "$root/lib/x86_64-linux-gnu/" ;;
    esac
done
