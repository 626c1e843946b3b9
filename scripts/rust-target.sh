#!/usr/bin/env bash
# Ensures what cross-building for one Rust target needs on this machine (Debian): the
# target's standard library (rustup) and, for Windows, mingw-w64's linker. Idempotent:
# installs only what is missing. Usage: rust-target.sh <target triple>
set -euo pipefail

triple=$1
# The host's own target needs nothing (and no rustup).
[ "$triple" != "$(rustc -vV | sed -n 's/^host: //p')" ] || exit 0
if ! rustup target list --installed | grep -qx "$triple"; then
    echo "rust-target: rustup target add $triple" >&2
    rustup target add "$triple" >&2
fi
case "$triple" in
    x86_64-pc-windows-gnu)
        if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
            echo "rust-target: apt-get install gcc-mingw-w64-x86-64" >&2
            apt-get update -q >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gcc-mingw-w64-x86-64 >&2 </dev/null
        fi
        ;;
esac
