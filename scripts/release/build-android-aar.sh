#!/usr/bin/env bash
# UNTESTED (needs the Android NDK; run by .github/workflows/release.yml only).
# The Android AAR: libcobo_oauth.so for four ABIs by cargo-ndk, each linked for 16 KB
# pages (devices with 16 KB pages, from Android 15, refuse 4 KB-aligned libraries), the
# Kotlin binding's classes, and a manifest. Apps add JNA's own AAR
# (net.java.dev.jna:jna:<pom's version>@aar), as every UniFFI Android library does.
#
#   build-android-aar.sh <output dir>     (after `make build bindgen`, with ANDROID_NDK_HOME)
set -euo pipefail

out=$1
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
rm -rf "$out/aar" && mkdir -p "$out/aar/jni"

RUSTFLAGS="-C link-arg=-Wl,-z,max-page-size=16384" cargo ndk \
    -t arm64-v8a -t armeabi-v7a -t x86_64 -t x86 --platform 24 -o "$out/aar/jni" \
    build -p cobo-oauth --lib --profile dist --features redis,kotlin-direct-signing
for so in "$out"/aar/jni/*/libcobo_oauth.so; do  # every LOAD segment aligned to 16 KB
    if "$ANDROID_NDK_HOME"/toolchains/llvm/prebuilt/linux-x86_64/bin/llvm-readelf -lW "$so" | awk '$1 == "LOAD" && $NF != "0x4000" { bad = 1 } END { exit !bad }'; then
        echo "build-android-aar: $so is not 16 KB-aligned" >&2; exit 1
    fi
done

# The binding's classes: the pom compiles them; the desktop libraries stay out.
mvn -B -f bindings-kotlin/pom.xml package -DskipTests
mkdir -p "$out/classes" && (cd "$out/classes" && unzip -q -o "$(ls "$repo"/bindings-kotlin/target/*.jar | head -n 1)" 'com/*')
jar cf "$out/aar/classes.jar" -C "$out/classes" .
cat > "$out/aar/AndroidManifest.xml" <<'XML'
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="com.cobo.oauth">
    <uses-sdk android:minSdkVersion="24" />
    <uses-permission android:name="android.permission.INTERNET" />
</manifest>
XML
(cd "$out/aar" && zip -qr "../cobo-oauth.aar" .)
echo "build-android-aar: $out/cobo-oauth.aar"
