#!/usr/bin/env bash
# Ensures a Swift toolchain for the Swift binding's tests and prints its root.
#
# Debian bookworm packages no Swift; trixie packages `swiftlang`, which needs trixie's
# libc. So Swift runs in a Debian trixie chroot, cached outside the repo:
#   ${COBO_SWIFT_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/cobo-oauth/swift-trixie}
# A complete chroot (marker file present) is reused. An install is built in
# "<root>.partial" and renamed only once complete, so an interrupted run leaves nothing
# but a partial directory, which the next run unmounts and deletes before starting over.
#
# Needs root (debootstrap, chroot, mount) and the Debian mirror; no stdin (works in CI).
# Logs go to stderr; the last line on stdout is the chroot's path.
set -euo pipefail

root="${COBO_SWIFT_ROOT:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/cobo-oauth/swift-trixie}"
root="${root%/}"
partial="$root.partial"
marker="$root/.cobo-oauth-swift-ready"
mirror="${COBO_SWIFT_MIRROR:-http://deb.debian.org/debian}"
export DEBIAN_FRONTEND=noninteractive

log() { printf 'swift-toolchain: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Unmounts everything mounted at or below directory $1, deepest first.
unmount_below() {
  local dir=$1 target
  findmnt -rn -o TARGET | awk -v d="$dir" '$0 == d || index($0, d "/") == 1' | sort -r |
    while read -r target; do
      umount "$target" 2>/dev/null || umount -l "$target"
    done
}

# Deletes the partial install, never crossing into a mounted file system.
discard_partial() {
  [[ -e "$partial" ]] || return 0
  log "discarding an interrupted install at $partial"
  unmount_below "$partial"
  rm -rf --one-file-system "$partial"
}

[[ "$(id -u)" -eq 0 ]] || die "run as root (debootstrap, chroot and mount need it)"
[[ -n "$root" && "$root" != "/" ]] || die "COBO_SWIFT_ROOT must not be /"

mkdir -p "$(dirname "$root")"
# One install at a time: concurrent runs wait here, then find the marker.
exec 9>"$root.lock"
flock 9

if [[ -f "$marker" ]]; then
  log "reusing $root"
  printf '%s\n' "$root"
  exit 0
fi
if [[ -e "$root" ]]; then
  die "$root exists but is not a complete install (no $(basename "$marker")); remove it or set COBO_SWIFT_ROOT"
fi

discard_partial
# Whatever happens from here on, leave no mount behind inside the partial install.
trap 'unmount_below "$partial"' EXIT

if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap on the host"
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends debootstrap >&2
fi

started=$SECONDS
log "debootstrapping Debian trixie (minbase) into $partial"
debootstrap --variant=minbase trixie "$partial" "$mirror" >&2

# Some maintainer scripts read /proc.
mountpoint -q "$partial/proc" || mount -t proc proc "$partial/proc"
log "installing swiftlang and libc6-dev in the chroot"
chroot "$partial" apt-get update -q >&2
chroot "$partial" apt-get install -y -q --no-install-recommends swiftlang libc6-dev >&2
chroot "$partial" apt-get clean
chroot "$partial" swift --version >&2
unmount_below "$partial"

date -u +%Y-%m-%dT%H:%M:%SZ >"$partial/$(basename "$marker")"
mv "$partial" "$root"
trap - EXIT
log "installed in $((SECONDS - started)) s: $root"
printf '%s\n' "$root"
