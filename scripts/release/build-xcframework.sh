#!/usr/bin/env bash
# UNTESTED (needs macOS and Xcode; run by .github/workflows/release.yml only).
# The Apple XCFramework, assembled as mozilla/application-services assembles
# MozillaRustComponents.xcframework: one static library per slice (iOS device; iOS
# simulator arm64 + x86-64 joined by lipo; macOS arm64 + x86-64 joined by lipo), each
# with the UniFFI header and module map, then zipped with its SwiftPM checksum for a
# `.binaryTarget`. The generated Swift API ships beside it as the package's source.
#
#   build-xcframework.sh <output dir>     (after `make bindgen`, on a Mac)
set -euo pipefail

out=$1
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
rm -rf "$out" && mkdir -p "$out/include" "$out/Sources/CoboOAuth"

static() {  # builds libcobo_oauth.a for one target, prints its path
    cargo rustc -p cobo-oauth --lib --profile dist --target "$1" --features redis --crate-type staticlib >&2
    printf '%s\n' "target/$1/dist/libcobo_oauth.a"
}
device=$(static aarch64-apple-ios)
lipo -create "$(static aarch64-apple-ios-sim)" "$(static x86_64-apple-ios)" -output "$out/libcobo_oauth-ios-sim.a"
lipo -create "$(static aarch64-apple-darwin)" "$(static x86_64-apple-darwin)" -output "$out/libcobo_oauth-macos.a"

# Bindings from the host's dylib (library mode); the header and module map are the slices'.
cargo build -p cobo-oauth --lib --profile dist --features redis
target/release/uniffi-bindgen generate target/dist/libcobo_oauth.dylib --language swift --no-format --out-dir "$out/gen"
mv "$out/gen/CoboOAuth.swift" "$out/Sources/CoboOAuth/"
cp bindings-swift/Sources/CoboOAuth/*.swift "$out/Sources/CoboOAuth/"
mv "$out/gen/CoboOAuthFFI.h" "$out/include/"
mv "$out/gen/CoboOAuthFFI.modulemap" "$out/include/module.modulemap"

xcodebuild -create-xcframework \
    -library "$device" -headers "$out/include" \
    -library "$out/libcobo_oauth-ios-sim.a" -headers "$out/include" \
    -library "$out/libcobo_oauth-macos.a" -headers "$out/include" \
    -output "$out/CoboOAuthFFI.xcframework"
(cd "$out" && zip -qry CoboOAuthFFI.xcframework.zip CoboOAuthFFI.xcframework)
checksum=$(swift package compute-checksum "$out/CoboOAuthFFI.xcframework.zip")

cat > "$out/Package.swift" <<SWIFT
// swift-tools-version:5.9
import PackageDescription
let package = Package(
    name: "CoboOAuth",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [.library(name: "CoboOAuth", targets: ["CoboOAuth"])],
    targets: [
        .binaryTarget(name: "CoboOAuthFFI",
                      url: "https://github.com/cobo-oauth/cobo-oauth/releases/download/\${GITHUB_REF_NAME:-dev}/CoboOAuthFFI.xcframework.zip",
                      checksum: "$checksum"),
        .target(name: "CoboOAuth", dependencies: ["CoboOAuthFFI"]),
    ]
)
SWIFT
echo "build-xcframework: $out/CoboOAuthFFI.xcframework.zip ($checksum)"
