#!/usr/bin/env bash
# Ensures an arm64 Debian bookworm chroot, run by qemu-user, and prints its root: where
# the aarch64 wheel is installed and tested (scripts/test-arm64.sh) and the jar's aarch64
# library runs on an arm64 JVM (Debian's openjdk-17-jre-headless; scripts/test-arm64-jvm.sh).
# Cached outside the repo, as the Swift chroot is:
#   ${COBO_ARM64_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/cobo-oauth/arm64-bookworm}
# A complete chroot (marker file present) is reused; an install is built in
# "<root>.partial" and renamed only once complete. A cached chroot made before the JRE
# was added gets it installed in place (apt-get in the chroot), not a new chroot.
#
# Needs root (debootstrap, chroot, mount, binfmt_misc) and the Debian mirror; no stdin.
# Registers qemu-aarch64 with the kernel's binfmt_misc when it is not (arm64 programs
# then run through qemu, on the host as in the chroot). Logs go to stderr; the last line
# on stdout is the chroot's path.
set -euo pipefail

root="${COBO_ARM64_ROOT:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/cobo-oauth/arm64-bookworm}"
root="${root%/}"
partial="$root.partial"
marker="$root/.cobo-oauth-arm64-ready"
mirror="${COBO_ARM64_MIRROR:-http://deb.debian.org/debian}"
export DEBIAN_FRONTEND=noninteractive

log() { printf 'arm64-chroot: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

unmount_below() {
  local dir=$1 target
  findmnt -rn -o TARGET | awk -v d="$dir" '$0 == d || index($0, d "/") == 1' | sort -r |
    while read -r target; do
      umount "$target" 2>/dev/null || umount -l "$target"
    done
}

[[ "$(id -u)" -eq 0 ]] || die "run as root (debootstrap, chroot, mount and binfmt_misc need it)"
[[ -n "$root" && "$root" != "/" ]] || die "COBO_ARM64_ROOT must not be /"

if ! command -v debootstrap >/dev/null || [[ ! -f /usr/lib/binfmt.d/qemu-aarch64.conf ]]; then
  log "installing debootstrap and qemu-user-static on the host"
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends debootstrap qemu-user-static >&2 </dev/null
fi
# The F flag in Debian's entry opens the interpreter now, so it also works in the chroot.
if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  log "registering qemu-aarch64 with binfmt_misc"
  cat /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register
fi

# The arm64 JRE, installed with apt inside the chroot (so under qemu: its postinst scripts
# run the arm64 java). Kept apart from debootstrap so that a cached chroot can get it too.
jre=usr/lib/jvm/java-17-openjdk-arm64/bin/java
install_jre() {
  local dir=$1 started=$SECONDS
  log "installing openjdk-17-jre-headless (arm64) in $dir"
  chroot "$dir" dpkg --configure -a >&2 </dev/null  # an interrupted install resumes
  chroot "$dir" apt-get update -q >&2 </dev/null
  chroot "$dir" apt-get install -y -q --no-install-recommends openjdk-17-jre-headless >&2 </dev/null
  chroot "$dir" apt-get clean
  chroot "$dir" "/$jre" -XshowSettings:properties -version 2>&1 | grep -E 'os.arch|java.version =' >&2
  log "JRE installed in $((SECONDS - started)) s"
}

mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9
if [[ -f "$marker" ]]; then
  if [[ ! -x "$root/$jre" ]]; then
    # Another run may be using the chroot's /proc: unmount only a mount made here.
    if ! mountpoint -q "$root/proc"; then
      mount -t proc proc "$root/proc"
      trap 'umount "$root/proc" 2>/dev/null || umount -l "$root/proc"' EXIT
    fi
    install_jre "$root"
    if [[ -n "$(trap -p EXIT)" ]]; then umount "$root/proc" 2>/dev/null || umount -l "$root/proc"; trap - EXIT; fi
  fi
  log "reusing $root"
  printf '%s\n' "$root"
  exit 0
fi
[[ ! -e "$root" ]] || die "$root exists but is not a complete install; remove it or set COBO_ARM64_ROOT"
if [[ -e "$partial" ]]; then
  log "discarding an interrupted install at $partial"
  unmount_below "$partial"
  rm -rf --one-file-system "$partial"
fi
trap 'unmount_below "$partial"' EXIT

started=$SECONDS
log "debootstrapping Debian bookworm arm64 (minbase) into $partial"
# Python and pytest from Debian: nothing to compile under emulation.
debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,python3-pytest \
  bookworm "$partial" "$mirror" >&2
chroot "$partial" apt-get clean
chroot "$partial" python3 -c 'import platform; print("arm64 chroot:", platform.machine(), platform.python_version())' >&2
mount -t proc proc "$partial/proc"
install_jre "$partial"
unmount_below "$partial"

date -u +%Y-%m-%dT%H:%M:%SZ >"$partial/$(basename "$marker")"
mv "$partial" "$root"
trap - EXIT
log "installed in $((SECONDS - started)) s: $root"
printf '%s\n' "$root"
