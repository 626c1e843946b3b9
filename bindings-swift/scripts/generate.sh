#!/usr/bin/env bash
# Builds the core library and generates the Swift binding from it into the package:
#   Sources/CoboOAuthFFI/generated/{CoboOAuthFFI.h,module.modulemap}
#   Sources/CoboOAuth/generated/CoboOAuth.swift
# Generated files are never committed; regenerate after every core build (a stale
# binding aborts at load with "UniFFI API checksum mismatch").
# Prints the directory holding libcobo_oauth.so as its last line on stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"   # bindings-swift/
repo="$(cd "$here/.." && pwd)"
release="$repo/target/release"

make -C "$repo" build bindgen >&2
so="$release/libcobo_oauth.so"
[[ -f "$so" ]] || { echo "generate: missing $so" >&2; exit 1; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# uniffi-bindgen reads core/uniffi.toml through `cargo metadata`: run it in the workspace.
(cd "$repo" && "$release/uniffi-bindgen" generate "$so" --language swift --no-format --out-dir "$out") >&2

gen_swift="$here/Sources/CoboOAuth/generated"
gen_ffi="$here/Sources/CoboOAuthFFI/generated"
rm -rf "$gen_swift" "$gen_ffi"
mkdir -p "$gen_swift" "$gen_ffi"
mv "$out/CoboOAuth.swift" "$gen_swift/"
mv "$out/CoboOAuthFFI.h" "$gen_ffi/"
# SwiftPM looks for module.modulemap in a system-library target.
mv "$out/CoboOAuthFFI.modulemap" "$gen_ffi/module.modulemap"
printf '%s\n' "$release"
