#!/usr/bin/env bash
# Generates the Kotlin bindings from the freshly built core library, then makes the
# UniFFI checks run before the library's first use.
#
#   generate-bindings.sh <release dir> <output dir>
#
# Run from inside the Cargo workspace (uniffi-bindgen calls `cargo metadata` to find
# core/uniffi.toml). The pom runs it after `make build bindgen`.
#
# Why the edit: UniFFI 0.32's Kotlin registers the library in `UniffiLib` and checks the
# contract version and API checksums only in `IntegrityCheckingUniffiLib`, which nothing
# touches unless the caller runs `uniffiEnsureInitialized()`. With a stale or mismatched
# .so, the first call then goes through wrong signatures and can crash the JVM. One line
# at the top of `UniffiLib`'s initializer runs the checks first, so any first use of the
# API throws "UniFFI API checksum mismatch" instead.
#
# Second edit: calls into Kotlin (the methods of a TokenStore or a CoordinatedTokenStore, a
# LogSink's log) all run through the two helpers uniffiTraitInterfaceCall(WithError),
# which catch only kotlin.Exception.
# Anything else (an Error: AssertionError, Kotlin's TODO()'s NotImplementedError,
# StackOverflowError) escapes to JNA, which logs it and returns with the call status
# untouched, i.e. success: a failed `save` would pass as saved and a rotated refresh token
# could be lost, or a lease taken for granted. Catching Throwable there makes every failure
# of a Kotlin callback reach the core (a store's as CoboOAuthException.Store; a sink's is
# dropped). The script also checks that every callback method of every foreign trait goes
# through one of the two helpers, so a trait whose methods UniFFI routes elsewhere fails
# the build instead of escaping the widened catch.
#
# Further edits, for speed (patch-generated.awk beside this one says how and why): a
# Kotlin-side lease cache for TokenManager and AsyncTokenManager (a cached token costs no
# FFI call), the native threads that resume suspend calls kept attached to the JVM,
# AppKey's signing in one JNA call (DirectSigning.kt), and AsyncOAuthClient's calls as one
# JNA call and one callback (DirectAsync.kt).
#
# The suspend calls, which await UniFFI's futures, need no edit for failures:
# uniffiRustCallAsync runs on the caller's coroutine and Rust only calls back into Kotlin
# to resume a continuation (uniffiRustFutureContinuationCallbackImpl), which throws
# nothing of ours. The foreign-trait async helper (uniffiTraitInterfaceCallAsync), which
# catches only kotlin.Exception like the sync ones did, must stay absent: stores and
# sinks are synchronous, and the check below fails the build if UniFFI ever emits it.
#
# The script fails if the generated code no longer has the expected shape (a UniFFI
# upgrade must revisit every edit).
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

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
counts=$(awk -f "$here/patch-generated.awk" "$kt" 2>&1 >"$kt.tmp") || die "patch-generated.awk: $counts"
expected="TokenManager=1 TokenManager.destroy=1 TokenManager.accessToken=1 TokenManager.authorizationHeader=1"
expected+=" TokenManager.invalidate=1 AsyncTokenManager=1 AsyncTokenManager.constructor=1 AsyncTokenManager.accessToken=1"
expected+=" AsyncTokenManager.authorizationHeader=1 ContinuationCallback=1 AppKey=1 AppKey.signRequest=1 AppKey.signRequestWithNonce=1"
expected+=" AsyncOAuthClient=1 AsyncOAuthClient.getOrgToken=1 AsyncOAuthClient.refreshOrgToken=1"
[ "$counts" = "$expected" ] || die "patch-generated.awk: the generated classes changed shape (each edit's count should be 1): $counts"
mv "$kt.tmp" "$kt"
echo "generate-bindings: wrote $kt"
