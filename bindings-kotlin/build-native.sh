#!/usr/bin/env bash
# Builds the libcobo_oauth.so that the jar bundles, for glibc 2.17 (manylinux2014, the
# wheel's floor too), and proves the floor: the .so may import no GLIBC_ symbol version
# above 2.17. A plain `cargo build` here links against this machine's glibc (2.36) and
# the jar would not load on older distributions; cargo-zigbuild links with zig against
# glibc 2.17's symbol versions instead.
#
#   build-native.sh <output dir>      (writes <output dir>/libcobo_oauth.so)
#
# Run from anywhere; the pom runs it in generate-sources. Needs PyPI (zig-toolchain.sh).
set -euo pipefail

out_dir=$1
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
floor=2.17
triple=x86_64-unknown-linux-gnu

PATH="$(bash "$repo/scripts/zig-toolchain.sh"):$PATH"
export PATH
cd "$repo"
cargo zigbuild --profile dist -p cobo-oauth --features redis,kotlin-direct-signing --lib --target "$triple.$floor" </dev/null
so="$repo/target/$triple/dist/libcobo_oauth.so"
bash "$repo/scripts/check-glibc-floor.sh" "$so" "$floor"
mkdir -p "$out_dir"
cp "$so" "$out_dir/libcobo_oauth.so"
