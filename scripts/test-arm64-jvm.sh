#!/usr/bin/env bash
# The jar's aarch64 library on an arm64 JVM: Debian's openjdk-17 in the arm64 chroot
# (scripts/arm64-chroot.sh installs it), run by qemu-user. The JVM gets what a user's
# class path holds, as BundledJarIT's: the jar (with linux-aarch64/libcobo_oauth.so added,
# built by build-native.sh with its glibc 2.17 floor check), JNA, the Kotlin stdlib and
# kotlinx-coroutines; plus the test classes' NativeProbe as its main class. The probe
# signs a shared vector (tests/vectors/signing.json) and gets and refreshes an org token
# from the mock (the host's x86-64 build, run in the chroot by arm64-stage-mock.sh, on the
# shared loopback). Checked here: os.arch is aarch64, the library JNA loaded is the jar's
# linux-aarch64 one (ELF machine 183, AArch64, mapped in the JVM), the vector's signature,
# the token type and lifetime, and the mock's counters (one get, one refresh, two pairs
# issued, nothing rejected).
#
#   test-arm64-jvm.sh   uses bindings-kotlin/target's jar and test classes, from `make test-kotlin`
#                       or build-platform-jar.sh (`mvn package -DskipTests` when missing)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
triple=aarch64-unknown-linux-gnu
out="$repo/target/arm64-jvm"
kotlin="$repo/bindings-kotlin"
cd "$repo"
root=$(bash scripts/arm64-chroot.sh)

jar=$(ls "$kotlin"/target/cobo-oauth-*.jar 2>/dev/null | grep -v -e sources -e javadoc | head -n 1 || true)
if [ -z "$jar" ] || [ ! -f "$kotlin/target/test-classes/com/cobo/oauth/NativeProbe.class" ]; then
    echo "== the jar and test classes (mvn package, no tests)"
    mvn -B -q -f "$kotlin/pom.xml" package -DskipTests </dev/null
    jar=$(ls "$kotlin"/target/cobo-oauth-*.jar | grep -v -e sources -e javadoc | head -n 1)
fi

echo "== the jar's linux-aarch64/libcobo_oauth.so"
rm -rf "$out" && mkdir -p "$out/native"
bash bindings-kotlin/build-native.sh "$out/native/linux-aarch64" "$triple"
# The pom's jar plus the aarch64 library where JNA looks for it: what build-platform-jar.sh's
# jar holds for this platform, without repackaging (and re-documenting) the whole project.
cp "$jar" "$out/cobo-oauth.jar"
(cd "$out/native" && jar uf "$out/cobo-oauth.jar" linux-aarch64/libcobo_oauth.so)

# The jar's runtime dependencies, as the pom resolves them (BundledJarIT's three).
mvn -B -q -f "$kotlin/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:build-classpath \
    -Dmdep.includeScope=runtime -Dmdep.outputFile="$out/classpath.txt" </dev/null
deps=$(tr ':' '\n' <"$out/classpath.txt" | grep -E '/(jna|kotlin-stdlib|kotlinx-coroutines-core-jvm)-[0-9][^/]*\.jar$')
[ "$(wc -l <<<"$deps")" -eq 3 ] || { echo "test-arm64-jvm: expected 3 runtime jars, got: $deps" >&2; exit 1; }

echo "== staged in the chroot: the jar, its dependencies, NativeProbe, the mock"
stage="$root/opt/cobo-oauth-jvm"
rm -rf --one-file-system "$stage"
bash scripts/arm64-stage-mock.sh "$root" /opt/cobo-oauth-jvm
mkdir -p "$stage/lib" "$stage/classes/com/cobo/oauth"
# shellcheck disable=SC2086 # one jar a line, no spaces in Maven's repository paths
cp "$out/cobo-oauth.jar" $deps "$stage/lib/"
cp "$kotlin"/target/test-classes/com/cobo/oauth/NativeProbe*.class "$stage/classes/com/cobo/oauth/"

# The JVM needs /proc. Another run may be using the chroot's: unmount only a mount made here.
mountpoint -q "$root/proc" || { mount -t proc proc "$root/proc"; mounted=1; }
# The mock runs until its stdin closes: closing the coprocess's pipe on exit stops it.
cleanup() {
    [ -z "${mock_in:-}" ] || { eval "exec $mock_in>&-"; wait "$mock_pid" || true; }
    [ -z "${mounted:-}" ] || umount "$root/proc" 2>/dev/null || umount -l "$root/proc"
}
trap cleanup EXIT

# The vector (a published test key, not a secret) and the app registered with it.
vector=$(python3 -c '
import json, sys
c = next(c for c in json.load(open(sys.argv[1]))["cases"] if c["name"] == "get_org_token")
print("\n".join(f"{k}={c[v]}" for k, v in [("seed", "private_key_hex"), ("method", "method"), ("path", "path"),
      ("query", "query"), ("body", "body"), ("nonce", "nonce"), ("signature", "signature"), ("api_key", "api_key")]))
' tests/vectors/signing.json)
api_key=$(sed -n 's/^api_key=//p' <<<"$vector")
client=arm64-jvm-probe org=org-arm64-jvm
coproc MOCK { chroot "$root" /opt/cobo-oauth-jvm/cobo-oauth-mock --app "$client:$api_key:$org" 2>"$out/mock.log"; }
mock_in=${MOCK[1]} mock_pid=$MOCK_PID
read -r ready <&"${MOCK[0]}" || { echo "test-arm64-jvm: the mock did not start; see $out/mock.log" >&2; exit 1; }
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$ready" "$1"; }
base_url=$(field base_url) control_url=$(field control_url) response_key=$(field response_public_key)

echo "== NativeProbe on the arm64 JVM under qemu-aarch64 (chroot $root)"
mapfile -t args < <(grep -v '^api_key=' <<<"$vector")
set +e
# timeout: a JVM hung under emulation fails the run instead of holding it forever.
timeout 600 chroot "$root" /usr/lib/jvm/java-17-openjdk-arm64/bin/java \
    -cp "/opt/cobo-oauth-jvm/classes:$(cd "$stage/lib" && ls | sed 's|^|/opt/cobo-oauth-jvm/lib/|' | paste -sd:)" \
    com.cobo.oauth.NativeProbe "${args[@]}" base_url="$base_url" response_key="$response_key" \
    client_id="$client" org_id="$org" </dev/null >"$out/probe.txt" 2>&1
status=$?
set -e
cat "$out/probe.txt"
[ "$status" -eq 0 ] || { echo "test-arm64-jvm: the probe exited $status" >&2; exit 1; }

counters=$(curl -sf --noproxy '*' "$control_url/counters")
echo "mock counters: $counters"
python3 - "$out/probe.txt" "$api_key" "$counters" <<'EOF'
import json, re, sys
text, api_key, counters = open(sys.argv[1]).read(), sys.argv[2], json.loads(sys.argv[3])
expect = [r"^ok [0-9a-f]{64}$",
          r"^platform os\.arch=aarch64 resource=jar:file:/opt/cobo-oauth-jvm/lib/cobo-oauth\.jar!/linux-aarch64/libcobo_oauth\.so "
          r"elf_machine=183 loaded=/\S*/jna\d+\.tmp mapped=true$",  # JNA's copy of the jar's resource
          rf"^vector ok {api_key}$",
          r"^token get=Bearer/43199 refresh=Bearer/43199$"]
missing = [p for p in expect if not re.search(p, text, re.M)]
wrong = {k: counters[k] for k, v in {"get": 1, "refresh": 1, "issued": 2, "rejected": 0}.items() if counters[k] != v}
if missing or wrong:
    sys.exit(f"test-arm64-jvm: missing lines {missing}; counters off {wrong}")
print("test-arm64-jvm: aarch64 JVM, the jar's linux-aarch64 library: vector signed, token got and refreshed "
      f"(mock: get {counters['get']}, refresh {counters['refresh']}, issued {counters['issued']}, rejected 0): ok")
EOF
