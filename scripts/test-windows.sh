#!/usr/bin/env bash
# The Rust suite on Windows, here: builds the core, CLI and mock for x86_64-pc-windows-gnu
# (mingw-w64) and runs their tests under wine (Debian's wine64), with cargo's runner.
# Installs what is missing (rustup target, mingw-w64, wine64); wine's prefix is cached
# outside the repo. The mock runs in-process, on loopback, inside wine.
#
#   test-windows.sh smoke   the CLI's tests and the signing vectors (what `make test` runs)
#   test-windows.sh full    every test of the three crates (`make test-platforms`)
#
# `full` wants the Redis of tests/redis/with-redis.sh (on the host's loopback).
set -euo pipefail

mode=${1:-smoke}
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
triple=x86_64-pc-windows-gnu
cd "$repo"

bash scripts/rust-target.sh "$triple"
wine=$(command -v wine64 || ls /usr/lib/wine/wine64 2>/dev/null || true)
if [ -z "$wine" ]; then
    echo "test-windows: apt-get install wine64" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wine64 >&2 </dev/null
    wine=$(command -v wine64 || ls /usr/lib/wine/wine64)
fi

export WINEPREFIX="${XDG_CACHE_HOME:-$HOME/.cache}/cobo-oauth/wine-prefix"
export WINEDEBUG=-all
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$wine"
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    echo "== wine prefix $WINEPREFIX (first use)"
    mkdir -p "$WINEPREFIX"
    "$wine" wineboot --init </dev/null >/dev/null 2>&1 || true
fi
# Rust's std imports ProcessPrng from bcryptprimitives.dll, which wine 8.0 lacks.
shim="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$shim" ] || [ tests/windows/bcryptprimitives.c -nt "$shim" ]; then
    x86_64-w64-mingw32-gcc -O2 -shared -o "$shim" tests/windows/bcryptprimitives.c -ladvapi32
fi

case "$mode" in
    # The smoke builds unoptimized: on a fresh clone, compiling is most of its time.
    smoke) tests=(-p cobo-oauth-cli -p cobo-oauth --test cli --test vectors) ;;
    full) tests=(--release -p cobo-oauth -p cobo-oauth-cli -p cobo-oauth-mock) ;;
    *) echo "usage: test-windows.sh smoke|full" >&2; exit 2 ;;
esac
# Not run on Windows, each for its reason:
skips=(
    # Unix by construction: Windows refuses to delete a lease file while it is held (the
    # store opens it without FILE_SHARE_DELETE); `kill -KILL/-STOP` and redis-server are
    # Linux programs.
    a_deleted_lease_file_refuses_the_stale_writers_save
    a_holder_killed_mid_refresh a_holder_stopped_past redis_down_and_back
    # Known gaps under wine 8.0, open: worker processes on one token file see a few saves
    # fail with "Access denied" (renaming over a record that another process is reading;
    # Rust's std renames with POSIX semantics on Windows 10+, which wine 8.0 may lack);
    # workers time out connecting to Redis over TLS.
    worker_processes_on_one_token_file_renew_once_per_expiry
    workers_reach_redis_over_tls_with_an_acl_user
)
filters=()
[ "$mode" = smoke ] || for test in "${skips[@]}"; do filters+=(--skip "$test"); done
echo "== cargo test --target $triple (under wine): $mode"
cargo test --no-fail-fast --target "$triple" "${tests[@]}" \
    --features cobo-oauth/redis,cobo-oauth/kotlin-direct-signing -- "${filters[@]}" </dev/null
