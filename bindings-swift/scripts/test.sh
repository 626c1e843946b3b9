#!/usr/bin/env bash
# Builds the core library, generates the Swift binding from it, and runs the Swift
# package's XCTest suite against the shared mock server.
#
#   bash bindings-swift/scripts/test.sh [extra `swift test` arguments, e.g. --filter Vector]
#
# Swift runs in a Debian trixie chroot (see swift-toolchain.sh, which this calls). The
# package, the .so and the shared test data are copied into the chroot for each run; the
# repo is never bind-mounted. The mock server runs on the host (the chroot shares the
# loopback network); its URLs and key reach the tests by environment. So do a second
# mock serving HTTPS (--tls; its CA as PEM text, since the chroot does not share the
# host's files), a third with strict rotation and 2 s access tokens (CoordinationTests),
# the test CONNECT proxy, and $COBO_OAUTH_REDIS_URL when set (run under
# tests/redis/with-redis.sh, as `make test-swift` does). Everything this script starts
# or mounts is stopped or unmounted on exit.
# Needs root and the Debian mirror (first run only); no stdin.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"   # bindings-swift/
repo="$(cd "$here/.." && pwd)"

log() { printf 'swift-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- cleanup: everything below registers what it must undo here --------------------
tests_pid=""
mock_pids=()
proc_mounted=""
tmp="$(mktemp -d)"
cleanup() {
  if [[ -n "$tests_pid" ]]; then   # interrupted: stop swift and everything it started
    kill -TERM -- "-$tests_pid" 2>/dev/null || true
    wait "$tests_pid" 2>/dev/null || true
  fi
  for pid in "${mock_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
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

# --- the mock servers and the proxy, on the host; they exit when their stdin closes --
# One FIFO is every server's stdin: all of them see it close when this script exits.
mkfifo "$tmp/mock-stdin"
json_field() {   # the string value of key $1 in the one-line JSON object $2
  local re="\"$1\"[[:space:]]*:[[:space:]]*\"([^\"]*)\""
  [[ $2 =~ $re ]] || die "no \"$1\" in the mock's line: $2"
  printf '%s' "${BASH_REMATCH[1]}"
}
start_mock() {   # start_mock NAME ARGS...: runs cobo-oauth-mock ARGS, sets $mock_info
  local name="$1" pid
  shift
  "$libdir/cobo-oauth-mock" "$@" <"$tmp/mock-stdin" >"$tmp/$name-stdout" 2>"$tmp/$name-stderr" &
  pid=$!
  mock_pids+=("$pid")
  [[ ${#mock_pids[@]} -gt 1 ]] || exec 7>"$tmp/mock-stdin"   # hold their stdin open until exit
  mock_info=""
  for _ in $(seq 1 300); do
    if [[ "$(wc -l <"$tmp/$name-stdout")" -ge 1 ]]; then
      mock_info="$(head -n 1 "$tmp/$name-stdout")"
      return
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name-stderr" >&2; die "cobo-oauth-mock $* exited"; }
    sleep 0.1
  done
  die "cobo-oauth-mock $* printed nothing in 30 s"
}

start_mock mock
base_url="$(json_field base_url "$mock_info")"
control_url="$(json_field control_url "$mock_info")"
response_key="$(json_field response_public_key "$mock_info")"
log "mock server at $base_url (control $control_url)"

start_mock tls-mock --tls
tls_base_url="$(json_field base_url "$mock_info")"
tls_control_url="$(json_field control_url "$mock_info")"
tls_response_key="$(json_field response_public_key "$mock_info")"
tls_ca_pem="$(cat "$(json_field ca_file "$mock_info")")"
log "HTTPS mock server at $tls_base_url"

start_mock strict-mock --strict-rotation --access-ttl 2
strict_base_url="$(json_field base_url "$mock_info")"
strict_control_url="$(json_field control_url "$mock_info")"
strict_response_key="$(json_field response_public_key "$mock_info")"
log "strict-rotation mock server at $strict_base_url"

start_mock proxy proxy
proxy_url="$(json_field proxy_url "$mock_info")"
proxy_control_url="$(json_field control_url "$mock_info")"
log "CONNECT proxy at $proxy_url"

# --- the README's consumer: an app beside a clone, as the README's Quickstart adds it --
# Its Package.swift is the README's lines, built with the README's linker flags (<repo>
# being the clone), and its main.swift is Sources/Quickstart/main.swift; it must get a
# token from a mock where it is installed. Before `swift test`, whose summary ends the run.
consumer=/build/readme-consumer
rm -rf "$root$consumer/cobo-oauth"
mkdir -p "$root$consumer/cobo-oauth/bindings-swift" "$root$consumer/cobo-oauth/target/release" "$root$consumer/App/Sources/App"
tar -C "$here" --exclude=./.build -cf - . | tar -C "$root$consumer/cobo-oauth/bindings-swift" -xf -
cp "$so" "$root$consumer/cobo-oauth/target/release/"
{
  printf '// swift-tools-version:5.9\nimport PackageDescription\n\nlet package = Package(\n    name: "App",\n'
  awk '/^\/\/ Package.swift of your app$/ { shown = 1; next } shown && /^```/ { exit } shown { print "    " $0 }' "$here/README.md"
  printf ')\n'
} >"$root$consumer/App/Package.swift"
grep -q '\.package(path: "\.\./cobo-oauth/bindings-swift")' "$root$consumer/App/Package.swift" ||
  die "README.md's Package.swift lines not found: $(cat "$root$consumer/App/Package.swift")"
cp "$here/Sources/Quickstart/main.swift" "$root$consumer/App/Sources/App/main.swift"
build_command="$(grep -o 'swift build -Xlinker -L<repo>/target/release -Xlinker -rpath -Xlinker <repo>/target/release' "$here/README.md")" ||
  die "README.md's swift build line not found"
build_command="${build_command//<repo>/$consumer/cobo-oauth}"
start_mock consumer-mock --app "readme-consumer:eb4f24e8cbe5b5c40c6a4a0574ed1d91937971be78cd1b9e1a8e096b584697db:org-readme"
consumer_base_url="$(json_field base_url "$mock_info")"
consumer_response_key="$(json_field response_public_key "$mock_info")"
log "the README's consumer app: $build_command"
# The key below is a test key the mock above registers; it is no secret.
if ! chroot "$root" /usr/bin/env -i -C "$consumer/App" HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TERM=dumb \
    COBO_ENV=sandbox COBO_CLIENT_ID=readme-consumer COBO_ORG_ID=org-readme \
    COBO_APP_PRIVATE_KEY=92e6f715e9fbf16368aa5a02e5e765b13f7d9136aacd9417fdf2e90059c98fdd \
    COBO_BASE_URL="$consumer_base_url" COBO_RESPONSE_PUBLIC_KEY="$consumer_response_key" \
    sh -c "$build_command && .build/debug/App" >"$tmp/consumer.log" 2>&1 7>&- 8>&-; then
  cat "$tmp/consumer.log" >&2
  die "the README's consumer app failed to build or run"
fi
grep -q '^got a Bearer token, expires in 43199 s$' "$tmp/consumer.log" ||
  { cat "$tmp/consumer.log" >&2; die "the README's consumer app got no token"; }
log "the README's consumer app built and got a token"

# --- run the tests inside the chroot ----------------------------------------------
# In its own session, so that an interrupted run can stop the whole process tree; the
# `wait` returns as soon as a signal arrives, and the EXIT trap cleans up.
setsid chroot "$root" /usr/bin/env -i -C "$work/swift" \
  HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TERM=dumb \
  COBO_MOCK_BASE_URL="$base_url" \
  COBO_MOCK_CONTROL_URL="$control_url" \
  COBO_MOCK_RESPONSE_PUBLIC_KEY="$response_key" \
  COBO_TLS_MOCK_BASE_URL="$tls_base_url" \
  COBO_TLS_MOCK_CONTROL_URL="$tls_control_url" \
  COBO_TLS_MOCK_RESPONSE_PUBLIC_KEY="$tls_response_key" \
  COBO_TLS_MOCK_CA_PEM="$tls_ca_pem" \
  COBO_PROXY_URL="$proxy_url" \
  COBO_PROXY_CONTROL_URL="$proxy_control_url" \
  COBO_STRICT_MOCK_BASE_URL="$strict_base_url" \
  COBO_STRICT_MOCK_CONTROL_URL="$strict_control_url" \
  COBO_STRICT_MOCK_RESPONSE_PUBLIC_KEY="$strict_response_key" \
  COBO_OAUTH_REDIS_URL="${COBO_OAUTH_REDIS_URL:-}" \
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
  tail -n 20 "$tmp/mock-stderr" "$tmp/tls-mock-stderr" "$tmp/strict-mock-stderr" "$tmp/proxy-stderr" >&2 || true
fi
exit "$status"
