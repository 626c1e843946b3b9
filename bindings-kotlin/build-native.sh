#!/usr/bin/env bash
# Builds the native library that the jar bundles for one platform, and proves what the
# platform promises. For Linux (x86-64, the default, and aarch64) that is glibc 2.17
# (manylinux2014, the wheel's floor too): the library may import no GLIBC_ symbol version
# above 2.17. A plain `cargo build` here links against this machine's glibc (2.36) and
# the jar would not load on older distributions; cargo-zigbuild links with zig against
# glibc 2.17's symbol versions instead. Windows (x86_64-pc-windows-gnu) links with
# Debian's mingw-w64; macOS targets build only on a Mac (the release workflow).
#
#   build-native.sh <output dir> [target triple]
#     writes <output dir>/libcobo_oauth.so, cobo_oauth.dll or libcobo_oauth.dylib
#
# Run from anywhere; the pom runs it in generate-sources. Needs PyPI (zig-toolchain.sh).
set -euo pipefail

out_dir=$1
triple=${2:-x86_64-unknown-linux-gnu}
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
floor=2.17
features=(-p cobo-oauth --features redis,kotlin-direct-signing --lib --profile dist)
cd "$repo"
mkdir -p "$out_dir"

case "$triple" in
    *-linux-gnu)
        PATH="$(bash "$repo/scripts/zig-toolchain.sh"):$PATH"
        export PATH
        bash "$repo/scripts/rust-target.sh" "$triple"
        # Its own target dir: maturin --zig (the wheel) builds the same triple and profile
        # with other linker settings, and in a shared one each build undid the other's.
        cargo zigbuild "${features[@]}" --target "$triple.$floor" --target-dir "$repo/target/jar-native" </dev/null
        lib="$repo/target/jar-native/$triple/dist/libcobo_oauth.so"
        bash "$repo/scripts/check-glibc-floor.sh" "$lib" "$floor"
        ;;
    x86_64-pc-windows-gnu)
        bash "$repo/scripts/rust-target.sh" "$triple"
        cargo build "${features[@]}" --target "$triple" </dev/null
        lib="$repo/target/$triple/dist/cobo_oauth.dll"
        ;;
    *-apple-darwin)
        cargo build "${features[@]}" --target "$triple" </dev/null
        lib="$repo/target/$triple/dist/libcobo_oauth.dylib"
        ;;
    *) echo "build-native: no recipe for $triple" >&2; exit 1 ;;
esac
cp "$lib" "$out_dir/"
echo "build-native: $out_dir/$(basename "$lib")"
