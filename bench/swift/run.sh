#!/usr/bin/env bash
# The Swift part of `make bench`: builds bench/swift (release) against the freshly generated
# Swift binding in the Debian trixie chroot (bindings-swift/scripts/swift-toolchain.sh) and
# runs it there; the benchmark starts the mock server itself (a copy of the host's binary).
#
#   bash bench/swift/run.sh <mock binary> <json out>
#
# As bindings-swift/scripts/test.sh: the packages and the .so are copied into the chroot
# (never bind-mounted), one run at a time per chroot, /proc unmounted on exit. Needs root.
set -euo pipefail

mock=$1
json_out=$2
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
swift_pkg="$repo/bindings-swift"

proc_mounted=""
cleanup() {
  if [[ -n "$proc_mounted" ]]; then
    umount "$proc_mounted" 2>/dev/null || umount -l "$proc_mounted"
  fi
}
trap cleanup EXIT

root="$(bash "$swift_pkg/scripts/swift-toolchain.sh" | tail -n 1)"
exec 8>"$root.run.lock"   # shared with the Swift tests: they share /proc and the generated sources
flock 8

libdir="$(bash "$swift_pkg/scripts/generate.sh" | tail -n 1)"
work=/build/cobo-oauth-bench     # as seen inside the chroot
dest="$root$work"
mkdir -p "$dest/bindings-swift" "$dest/bench/swift" "$dest/lib"
# Keep the previous run's .build (incremental builds); replace everything else.
find "$dest/bindings-swift" "$dest/bench/swift" -mindepth 1 -maxdepth 1 ! -name .build -exec rm -rf {} +
tar -C "$swift_pkg" --exclude=./.build -cf - . | tar -C "$dest/bindings-swift" -xf -
tar -C "$repo/bench/swift" --exclude=./.build --exclude=./run.sh -cf - . | tar -C "$dest/bench/swift" -xf -
cp "$libdir/libcobo_oauth.so" "$mock" "$dest/lib/"

if ! mountpoint -q "$root/proc"; then
  mount -t proc proc "$root/proc"
  proc_mounted="$root/proc"
fi

run() {
  chroot "$root" /usr/bin/env -i -C "$work/bench/swift" HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TERM=dumb "$@" 8>&-
}
run swift build -q -c release -Xlinker -L"$work/lib" -Xlinker -rpath -Xlinker "$work/lib" </dev/null
run .build/release/CoboOAuthBench --mock "$work/lib/$(basename "$mock")" --json "$work/swift.json" </dev/null
cp "$dest/swift.json" "$json_out"
