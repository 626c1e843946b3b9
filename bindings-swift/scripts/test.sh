#!/usr/bin/env bash
# Builds the core library, generates the Swift binding from it, and runs the Swift
# package's XCTest suite against the shared mock server.
#
#   bash bindings-swift/scripts/test.sh [extra `swift test` arguments, e.g. --filter Vector]
#
# Swift runs in a Debian trixie chroot (see swift-toolchain.sh, which this calls). The
# package, the .so and the shared test data are copied into the chroot for each run; the
# repo is never bind-mounted. The mock server runs on the host (the chroot shares the
# loopback network); its URLs and key reach the tests by environment. Everything this
# script starts or mounts is stopped or unmounted on exit.
# Needs root and the Debian mirror (first run only); no stdin.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"   # bindings-swift/
repo="$(cd "$here/.." && pwd)"

log() { printf 'swift-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- cleanup: everything below registers what it must undo here --------------------
tests_pid=""
mock_pid=""
proc_mounted=""
tmp="$(mktemp -d)"
cleanup() {
  if [[ -n "$tests_pid" ]]; then   # interrupted: stop swift and everything it started
    kill -TERM -- "-$tests_pid" 2>/dev/null || true
    wait "$tests_pid" 2>/dev/null || true
  fi
  if [[ -n "$mock_pid" ]]; then
    kill "$mock_pid" 2>/dev/null || true
    wait "$mock_pid" 2>/dev/null || true
  fi
  if [[ -n "$proc_mounted" ]]; then
    umount "$proc_mounted" 2>/dev/null || umount -l "$proc_mounted"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- toolchain, core library, generated binding -----------------------------------
root="$(bash "$here/scripts/swift-toolchain.sh" | tail -n 1)"

# One run at a time per chroot: runs share its /proc mount, its build directory and
# the package's generated sources.
exec 8>"$root.run.lock"
if ! flock -n 8; then
  log "waiting for another Swift test run to finish"
  flock 8
fi

libdir="$(bash "$here/scripts/generate.sh" | tail -n 1)"
so="$libdir/libcobo_oauth.so"
[[ -f "$so" ]] || die "missing $so"

# --- copy the package, the library and the shared test data into the chroot -------
work=/build/cobo-oauth           # as seen inside the chroot
dest="$root$work"
mkdir -p "$dest/swift" "$dest/lib"
# Keep the previous run's .build (incremental builds); replace everything else.
find "$dest/swift" -mindepth 1 -maxdepth 1 ! -name .build -exec rm -rf {} +
tar -C "$here" --exclude=./.build -cf - . | tar -C "$dest/swift" -xf -
cp "$so" "$dest/lib/"
rm -rf "$dest/testdata"
mkdir -p "$dest/testdata"
cp -R "$repo/tests/vectors" "$dest/testdata/vectors"
cp "$repo/tests/faults.json" "$dest/testdata/faults.json"
cp "$repo/core/src/cobo_oauth.udl" "$dest/testdata/cobo_oauth.udl"

# swiftc finds its own libraries through $ORIGIN, which needs /proc.
if ! mountpoint -q "$root/proc"; then
  mount -t proc proc "$root/proc"
  proc_mounted="$root/proc"
fi

# --- the mock server, on the host; it exits when its stdin closes -----------------
mkfifo "$tmp/mock-stdin"
"$libdir/cobo-oauth-mock" <"$tmp/mock-stdin" >"$tmp/mock-stdout" 2>"$tmp/mock-stderr" &
mock_pid=$!
exec 7>"$tmp/mock-stdin"          # hold its stdin open until this script exits
mock_info=""
for _ in $(seq 1 300); do
  if [[ "$(wc -l <"$tmp/mock-stdout")" -ge 1 ]]; then
    mock_info="$(head -n 1 "$tmp/mock-stdout")"
    break
  fi
  kill -0 "$mock_pid" 2>/dev/null || { cat "$tmp/mock-stderr" >&2; die "the mock server exited"; }
  sleep 0.1
done
[[ -n "$mock_info" ]] || die "the mock server printed nothing in 30 s"

json_field() {   # the string value of key $1 in the one-line JSON object $2
  local re="\"$1\"[[:space:]]*:[[:space:]]*\"([^\"]*)\""
  [[ $2 =~ $re ]] || die "no \"$1\" in the mock's line: $2"
  printf '%s' "${BASH_REMATCH[1]}"
}
base_url="$(json_field base_url "$mock_info")"
control_url="$(json_field control_url "$mock_info")"
response_key="$(json_field response_public_key "$mock_info")"
log "mock server at $base_url (control $control_url)"

# --- run the tests inside the chroot ----------------------------------------------
# In its own session, so that an interrupted run can stop the whole process tree; the
# `wait` returns as soon as a signal arrives, and the EXIT trap cleans up.
setsid chroot "$root" /usr/bin/env -i -C "$work/swift" \
  HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TERM=dumb \
  COBO_MOCK_BASE_URL="$base_url" \
  COBO_MOCK_CONTROL_URL="$control_url" \
  COBO_MOCK_RESPONSE_PUBLIC_KEY="$response_key" \
  COBO_TEST_VECTORS="$work/testdata/vectors" \
  COBO_TEST_FAULTS="$work/testdata/faults.json" \
  COBO_OAUTH_UDL="$work/testdata/cobo_oauth.udl" \
  swift test --disable-swift-testing \
    -Xlinker -L"$work/lib" -Xlinker -rpath -Xlinker "$work/lib" "$@" 7>&- 8>&- &
tests_pid=$!
status=0
wait "$tests_pid" || status=$?
tests_pid=""

if [[ $status -ne 0 ]]; then
  log "swift test failed ($status); the mock server's last log lines:"
  tail -n 20 "$tmp/mock-stderr" >&2 || true
fi
exit "$status"
