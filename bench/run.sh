#!/usr/bin/env bash
# `make bench`: cobo-oauth against Cobo's official SDKs, in one run on this machine.
# Builds what it needs, runs the Rust core's benchmark, then the Python and Kotlin ones
# (each against its official SDK and the same mock server binary), prints one table and
# writes target/bench/results.json (the parts: target/bench/{rust,python,kotlin,kotlin-official,swift}.json).
# Swift has no official SDK to compare with: it is measured against the core only, in the
# Swift chroot (bench/swift/run.sh). Not part of `make test`. About 4 minutes on 2 cores once built.
# Usage: bash bench/run.sh        (BENCH_PARTS="rust python kotlin swift" selects parts)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
OUT="$REPO/target/bench"
VENV="$OUT/venv"
REQUIREMENTS="$REPO/bench/requirements.txt"
PARTS="${BENCH_PARTS:-rust python kotlin swift}"
MOCK="$REPO/target/release/cobo-oauth-mock"
cd "$REPO"
mkdir -p "$OUT"
rm -f "$OUT"/*.json

echo "== build: core library, CLI, mock server, uniffi-bindgen (release)"
make --no-print-directory build bindgen </dev/null

if [[ " $PARTS " == *" rust "* ]]; then
    echo "== Rust core (cargo bench)"
    # Next to a throwaway redis-server: the coordinated renewal's cost on Redis too.
    bash tests/redis/with-redis.sh cargo bench -q -p cobo-oauth --features redis --bench throughput -- \
        --mock "$MOCK" --json "$OUT/rust.json" </dev/null
fi

if [[ " $PARTS " == *" python "* ]]; then
    # The venv is reused only if it was completed for exactly these requirements.
    wanted="$("$PYTHON" --version 2>&1) $(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
    if [ "$(cat "$VENV/.bench-requirements" 2>/dev/null)" != "$wanted" ]; then
        echo "== venv $VENV (fresh) with $(grep -v '^#' "$REQUIREMENTS" | xargs)"
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" </dev/null
        echo "$wanted" > "$VENV/.bench-requirements"
    fi
    echo "== Python: our wheel (maturin build --profile dist) into $VENV"
    rm -rf "$OUT/wheels"
    (cd bindings-python && "$VENV/bin/maturin" build --quiet --profile dist --out "$OUT/wheels" </dev/null)
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --no-deps --force-reinstall \
        "$OUT"/wheels/cobo_oauth-*.whl </dev/null
    echo "== Python (cobo_oauth vs cobo-waas2)"
    "$VENV/bin/python" bench/python/bench.py --mock "$MOCK" --json "$OUT/python.json" </dev/null
fi

if [[ " $PARTS " == *" kotlin "* ]]; then
    # The official Java SDK joins when Maven can resolve it (Maven Central, or ~/.m2).
    sdk_version="$(sed -n 's:.*<cobo.java.sdk.version>\(.*\)</cobo.java.sdk.version>.*:\1:p' bench/kotlin/pom.xml)"
    profile=()
    if mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get \
        -Dartifact="com.cobo.waas2:cobo-waas2:$sdk_version" -Dtransitive=false </dev/null >"$OUT/java-sdk-resolve.log" 2>&1; then
        profile=(-P java-sdk)
    else
        echo "   com.cobo.waas2:cobo-waas2:$sdk_version cannot be resolved (see $OUT/java-sdk-resolve.log): Kotlin figures without the official SDK"
    fi
    echo "== Kotlin: build (Maven)"
    mvn -B -q -f bench/kotlin/pom.xml "${profile[@]}" compile </dev/null
    # Each side in a JVM of its own: neither inherits the other's garbage or JIT state.
    classpath="$OUT/kotlin/classes:$(cat "$OUT/kotlin/classpath.txt")"
    echo "== Kotlin: cobo-oauth"
    java -cp "$classpath" com.cobo.oauth.bench.MainKt --part ours --mock "$MOCK" --json "$OUT/kotlin.json" </dev/null
    if [ ${#profile[@]} -gt 0 ]; then
        echo "== Kotlin: the official Java SDK"
        java -cp "$classpath" com.cobo.oauth.bench.MainKt --part official --mock "$MOCK" \
            --json "$OUT/kotlin-official.json" </dev/null
    fi
fi

if [[ " $PARTS " == *" swift "* ]]; then
    echo "== Swift: cobo-oauth (release build in the Swift chroot)"
    bash bench/swift/run.sh "$MOCK" "$OUT/swift.json" </dev/null
fi

echo
"$PYTHON" bench/report.py --dir "$OUT" --out "$OUT/results.json"
