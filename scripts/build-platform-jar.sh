#!/usr/bin/env bash
# The jar with every desktop library built here: linux-x86-64 (the pom builds it),
# linux-aarch64 (scripts/test-arm64.sh full) and win32-x86-64 (build-windows-artifacts.sh),
# each in the directory JNA looks in. Copies them where the pom bundles native libraries
# from, packages the jar (no tests: the x86-64 JVM tests are `make test-kotlin`'s) and
# checks that it holds all three.
#
#   build-platform-jar.sh     (after test-arm64.sh full and build-windows-artifacts.sh)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
native="$repo/bindings-kotlin/target/native"
cd "$repo"
mkdir -p "$native"
cp -r target/arm64/native/linux-aarch64 target/windows/native/win32-x86-64 "$native/"
mvn -B -q -f bindings-kotlin/pom.xml package -DskipTests </dev/null
jar=$(ls bindings-kotlin/target/cobo-oauth-*.jar | grep -v -e sources -e javadoc | head -n 1)
listing=$(unzip -Z1 "$jar")
for lib in linux-x86-64/libcobo_oauth.so linux-aarch64/libcobo_oauth.so win32-x86-64/cobo_oauth.dll; do
    grep -qx "$lib" <<<"$listing" || { echo "build-platform-jar: $jar lacks $lib" >&2; exit 1; }
done
echo "build-platform-jar: $(basename "$jar") holds linux-x86-64, linux-aarch64 and win32-x86-64: ok"
