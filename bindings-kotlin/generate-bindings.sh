#!/usr/bin/env bash
# Generates the Kotlin bindings from the freshly built core library and makes two
# one-line edits, each a UniFFI 0.32 bug, each checked by count (a UniFFI upgrade that
# changes their shape fails the build). Everything else the binding adds is hand-written
# in src/main/kotlin, over the generated classes (core/uniffi.toml renames the ones it
# subclasses).
#
#   generate-bindings.sh <release dir> <output dir>
#
# Run from inside the Cargo workspace (uniffi-bindgen calls `cargo metadata` to find
# core/uniffi.toml). The pom runs it after `make build bindgen`.
#
# Edit 1, the checks first: UniFFI 0.32's Kotlin registers the library in `UniffiLib` and
# checks the contract version and API checksums only in `IntegrityCheckingUniffiLib`,
# which nothing touches unless the caller runs `uniffiEnsureInitialized()`. With a stale
# or mismatched .so, the first call then goes through wrong signatures and can crash the
# JVM. One line at the top of `UniffiLib`'s initializer runs the checks first, so any
# first use of the API throws "UniFFI API checksum mismatch" instead.
# Upstream: not fixed yet. mozilla/uniffi-rs main (b7350f1, 2026-08-21) still registers
# UniffiLib without touching IntegrityCheckingUniffiLib; #2949 only made
# uniffiEnsureInitialized() call it by name. Drop this edit once UniffiLib's init runs
# the checks (an issue to file against NamespaceLibraryTemplate.kt).
#
# Edit 2, Throwable: calls into Kotlin (the methods of a TokenStore or a
# CoordinatedTokenStore, a LogSink's log) all run through the two helpers
# uniffiTraitInterfaceCall(WithError), which catch only kotlin.Exception. Anything else
# (an Error: AssertionError, Kotlin's TODO()'s NotImplementedError, StackOverflowError)
# escapes to JNA, which logs it and returns with the call status untouched, i.e.
# success: a failed `save` would pass as saved and a rotated refresh token could be
# lost, or a lease taken for granted. Catching Throwable there makes every failure of a
# Kotlin callback reach the core (a store's as CoboOAuthException.Store; a sink's is
# dropped). The script also checks that every callback method of every foreign trait
# goes through one of the two helpers, so a trait whose methods UniFFI routes elsewhere
# fails the build instead of escaping the widened catch.
# Upstream: fixed by mozilla/uniffi-rs#2945 (issue #2903, "Fix Kotlin Throwable
# handling": both helpers catch kotlin.Throwable), merged after v0.32.0 and not in a
# release yet (CHANGELOG "Unreleased"). Drop this edit on the first release with it.
#
# The suspend calls, which await UniFFI's futures, need no edit for failures:
# uniffiRustCallAsync runs on the caller's coroutine and Rust only calls back into Kotlin
# to resume a continuation (uniffiRustFutureContinuationCallbackImpl), which throws
# nothing of ours. The foreign-trait async helper (uniffiTraitInterfaceCallAsync), which
# catches only kotlin.Exception like the sync ones did, must stay absent: stores and
# sinks are synchronous, and the check below fails the build if UniFFI ever emits it.
set -euo pipefail

release_dir=$1
out_dir=$2
lib="$release_dir/libcobo_oauth.so"
bindgen="$release_dir/uniffi-bindgen"

die() { printf 'generate-bindings: error: %s\n' "$*" >&2; exit 1; }

[ -f "$lib" ] || die "$lib is missing (run: make build)"
[ -x "$bindgen" ] || die "$bindgen is missing (run: make bindgen)"

rm -rf "$out_dir"
mkdir -p "$out_dir"
"$bindgen" generate "$lib" --language kotlin --no-format --out-dir "$out_dir"

kt="$out_dir/com/cobo/oauth/cobo_oauth.kt"
[ -f "$kt" ] || die "expected $kt; the bindgen wrote: $(cd "$out_dir" && find . -type f)"

anchor='        Native.register(UniffiLib::class.java, findLibraryName(componentName = "cobo_oauth"))'
check='        IntegrityCheckingUniffiLib.ensureInitialized() // generate-bindings.sh: contract and checksums first'
count=$(grep -cxF "$anchor" "$kt" || true)
[ "$count" = 1 ] || die "found the UniffiLib registration $count times in $kt, expected once"
grep -qF 'internal object IntegrityCheckingUniffiLib {' "$kt" || die "no IntegrityCheckingUniffiLib in $kt"

awk -v anchor="$anchor" -v check="$check" '$0 == anchor { print check } { print }' "$kt" > "$kt.tmp"
mv "$kt.tmp" "$kt"
grep -qxF "$check" "$kt" || die "inserting the initialization check failed"

catch_any='    } catch(e: kotlin.Exception) {'
catch_all='    } catch(e: kotlin.Throwable) { // generate-bindings.sh: an Error must not pass as success'
count=$(grep -cxF "$catch_any" "$kt" || true)
[ "$count" = 2 ] || die "found '$catch_any' $count times in $kt, expected twice (uniffiTraitInterfaceCall, ...WithError)"
awk -v from="$catch_any" -v to="$catch_all" '$0 == from { print to; next } { print }' "$kt" > "$kt.tmp"
mv "$kt.tmp" "$kt"
[ "$(grep -cxF "$catch_all" "$kt")" = 2 ] || die "widening the callback catch failed"
! grep -q 'uniffiTraitInterfaceCallAsync' "$kt" ||
    die "$kt has async foreign-trait helpers (uniffiTraitInterfaceCallAsync), whose catch is not widened"
# Per foreign trait: its callback method objects / the helper calls inside them.
routed=$(awk '
/^internal object uniffiCallbackInterface[A-Za-z]+ \{$/ { trait = $3; sub(/^uniffiCallbackInterface/, "", trait); order[++n] = trait; next }
/^[^ \t}]/ { trait = "" }
trait != "" && /^    internal object `[A-Za-z]+`: UniffiCallbackInterface[A-Za-z]+Method[0-9]+ \{$/ { methods[trait]++ }
trait != "" && /^            uniffiTraitInterfaceCall(WithError)?\(/ { calls[trait]++ }
END { for (i = 1; i <= n; i++) printf "%s%s=%d/%d", (i > 1 ? " " : ""), order[i], methods[order[i]], calls[order[i]]; print "" }
' "$kt")
[ "$routed" = "CoordinatedTokenStore=6/6 LogSink=1/1 TokenStore=3/3" ] ||
    die "the foreign traits' callbacks changed shape (trait=methods/helper calls): $routed"

# The hand-written classes take over these public names (core/uniffi.toml renames the
# generated ones): a generated class of that name would clash with them.
for name in AppKey TokenManager AsyncTokenManager AsyncOAuthClient; do
    grep -qE "^open class Uniffi$name ?:" "$kt" || die "no generated Uniffi$name in $kt (see [bindings.kotlin.rename] in core/uniffi.toml)"
    ! grep -qE "^open class $name ?:" "$kt" || die "$kt still generates $name, which src/main/kotlin defines"
done
echo "generate-bindings: wrote $kt"
