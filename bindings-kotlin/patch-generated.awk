# The edits of the generated Kotlin that make it fast on the JVM, where every UniFFI call
# costs JNA structures allocated by reflection (tens of µs). Run by generate-bindings.sh,
# which checks the counts this prints to stderr, so a UniFFI upgrade that changes the
# shape of a class fails the build.
#
# TokenManager (TokenLeaseCache.kt):
# - accessToken and authorizationHeader serve the org's lease from the Kotlin cache and
#   ask the core (lease) only when it ran out: a cached token costs no FFI call;
# - invalidate drops the org's lease after the core's invalidate and returns what the
#   core returned (the org id must be its first argument);
# - destroy forgets every lease.
# AsyncTokenManager (TokenLeaseCache.kt, TokenWaits.kt) keeps the TokenManager it was made
#   from; its accessToken and authorizationHeader serve that manager's cached lease without
#   a call into the core, and on a miss await the core's future (no thread blocked while a
#   renewal runs), then record the renewed token's lease through the manager (a fresh
#   token: one FFI call that returns at once); coroutines missing at the same time share
#   that one wait.
# The continuation callback of UniFFI's futures keeps the native thread that calls it (the
#   core's I/O thread for AsyncOAuthClient, a pool thread for a renewal) attached to the
#   JVM: by default JNA attaches the thread before each callback and detaches it after,
#   making a java.lang.Thread each time, which cost async round trips a third of their
#   throughput. JNA detaches a kept thread when it exits.
# AppKey (DirectSigning.kt): signRequest and signRequestWithNonce make one JNA call with
#   two byte arrays instead of six UniFFI calls, under the generated call counter (as
#   callWithHandle, minus the handle's clone, itself an FFI call); what DirectSigning
#   declines takes the generated call.
# AsyncOAuthClient (DirectAsync.kt): getOrgToken and refreshOrgToken make one JNA call,
#   under the call counter as AppKey's, and hear the outcome in one callback instead of
#   awaiting UniFFI's future (about nine calls and two callbacks); what DirectAsync
#   declines awaits the generated future.
#
# Each public method becomes a hand-written override in front of the generated one,
# which is renamed `uniffi<Name>` and made private; the docs and annotations above the
# generated method stay with the public override.

function call_args(signature,    args, names, name) {
    args = substr(signature, index(signature, "(") + 1)
    names = ""
    while (match(args, /`[A-Za-z0-9_]+`:/)) {
        name = substr(args, RSTART, RLENGTH - 1)
        names = names (names == "" ? "" : ", ") name
        args = substr(args, RSTART + RLENGTH)
    }
    return names
}

# Prints the override of `name` (with the generated method's annotation) and renames the
# generated method behind it. `why` names the Kotlin file the override uses.
function wrap(line, name, body, why,    private_name, annotation, header) {
    private_name = "uniffi" toupper(substr(name, 1, 1)) substr(name, 2)
    annotation = ""
    if (match(line, /@Throws\([A-Za-z]+::class\)/)) annotation = substr(line, RSTART, RLENGTH) " "
    sub(/^    (@Throws\([A-Za-z]+::class\) ?)?override fun `[A-Za-z]+`\(/, "", line)
    header = line ~ /\{$/ ? line : line " {"   # a Unit method has an expression body
    print "    " annotation "override fun `" name "`(" header " // generate-bindings.sh: " why
    print body
    print "    }"
    print "    private fun " private_name "(" line
    wrapped[class "." name]++
}

# As wrap, for a suspend method whose annotations sit on lines of their own above it.
function wrap_suspend(line, name, body, why,    private_name) {
    private_name = "uniffi" toupper(substr(name, 1, 1)) substr(name, 2)
    sub(/^    override suspend fun `[A-Za-z]+`\(/, "", line)
    print "    override suspend fun `" name "`(" line " // generate-bindings.sh: " why
    print body
    print "    }"
    print "    private suspend fun " private_name "(" line
    wrapped[class "." name]++
}

# The class runs to the next top-level declaration (generated code has unindented
# braces inside it).
/^(open |data |sealed |enum |internal |public |private )?(class|object|interface) / { class = "" }
/^open class (TokenManager|AsyncTokenManager|AppKey|AsyncOAuthClient) ?: ?Disposable, AutoCloseable, [A-Za-z]+Interface/ {
    class = $3
    sub(/:$/, "", class)
}

class == "TokenManager" && $0 == "    private val callCounter = AtomicLong(1)" {
    print
    print "    private val uniffiLeases = TokenLeaseCache() // generate-bindings.sh"
    print "    internal fun uniffiCachedAccessToken(`orgId`: kotlin.String): Secret? = uniffiLeases.cached(`orgId`) // generate-bindings.sh"
    fields[class]++
    next
}
class == "TokenManager" && $0 == "    override fun destroy() {" {
    print
    print "        uniffiLeases.clear() // generate-bindings.sh"
    fields[class ".destroy"]++
    next
}
class == "TokenManager" && /^    (@Throws\([A-Za-z]+::class\) ?)?override fun `accessToken`\(`orgId`: kotlin\.String\) ?: ?Secret ?\{$/ {
    wrap($0, "accessToken", "        return uniffiLeases.accessToken(`orgId`, this)", "the Kotlin lease cache")
    next
}
class == "TokenManager" && /^    (@Throws\([A-Za-z]+::class\) ?)?override fun `authorizationHeader`\(`orgId`: kotlin\.String\) ?: ?Secret ?\{$/ {
    wrap($0, "authorizationHeader", "        return Secret(\"Bearer \" + uniffiLeases.accessToken(`orgId`, this).value)", "the Kotlin lease cache")
    next
}
class == "TokenManager" && /^    (@Throws\([A-Za-z]+::class\) ?)?override fun `invalidate`\(`orgId`: kotlin\.String[,)]/ {
    wrap($0, "invalidate", "        val current = uniffiInvalidate(" call_args($0) ")\n        uniffiLeases.drop(`orgId`)\n        return current", "the Kotlin lease cache")
    next
}

# AsyncTokenManager keeps the TokenManager it was made from: `uniffiWrapped`.
class == "AsyncTokenManager" && $0 == "    private val callCounter = AtomicLong(1)" {
    print
    print "    @Volatile private var uniffiWrapped: TokenManager? = null // generate-bindings.sh: whose lease cache to read"
    print "    private val uniffiWaits = TokenWaits() // generate-bindings.sh"
    fields[class]++
    next
}
class == "AsyncTokenManager" && $0 == "    constructor(`manager`: TokenManager) :" {
    in_constructor = $0
    sub(/^    constructor\(/, "", in_constructor)
    sub(/:.*/, "", in_constructor)
}
in_constructor != "" && $0 == "    )" {
    print "    ) {"
    print "        uniffiWrapped = " in_constructor " // generate-bindings.sh"
    print "    }"
    in_constructor = ""
    fields[class ".constructor"]++
    next
}
class == "AsyncTokenManager" && /^    override suspend fun `accessToken`\(`orgId`: kotlin\.String\) ?: ?Secret ?\{$/ {
    wrap_suspend($0, "accessToken", \
        "        val manager = uniffiWrapped ?: return uniffiAccessToken(`orgId`)\n" \
        "        manager.uniffiCachedAccessToken(`orgId`)?.let { return it }\n" \
        "        return uniffiWaits.accessToken(`orgId`) {\n" \
        "            val renewed = uniffiAccessToken(`orgId`)\n" \
        "            // Awaited without blocking; the token is fresh now, so its lease (kept for the\n" \
        "            // next call) comes back at once.\n" \
        "            if (manager.uniffiIsDestroyed) renewed else manager.accessToken(`orgId`)\n" \
        "        }", "the Kotlin lease cache")
    next
}
class == "AsyncTokenManager" && /^    override suspend fun `authorizationHeader`\(`orgId`: kotlin\.String\) ?: ?Secret ?\{$/ {
    wrap_suspend($0, "authorizationHeader", "        return Secret(\"Bearer \" + accessToken(`orgId`).value)", "the Kotlin lease cache")
    next
}
$0 == "internal object uniffiRustFutureContinuationCallbackImpl: UniffiRustFutureContinuationCallback {" {
    print
    print "    init { Native.setCallbackThreadInitializer(this, com.sun.jna.CallbackThreadInitializer(true, false, \"cobo-oauth\")) } // generate-bindings.sh: keep the thread attached"
    fields["ContinuationCallback"]++
    next
}

(class == "AppKey" || class == "AsyncOAuthClient") && $0 == "    private val callCounter = AtomicLong(1)" {
    print
    print "    private inline fun <R> uniffiWithBorrowedHandle(block: (handle: Long) -> R): R { // generate-bindings.sh"
    print "        do {"
    print "            val c = this.callCounter.get()"
    print "            if (c == 0L) throw IllegalStateException(\"${this.javaClass.simpleName} object has already been destroyed\")"
    print "            if (c == Long.MAX_VALUE) throw IllegalStateException(\"${this.javaClass.simpleName} call counter would overflow\")"
    print "        } while (!this.callCounter.compareAndSet(c, c + 1L))"
    print "        try {"
    print "            return block(this.handle)"
    print "        } finally {"
    print "            if (this.callCounter.decrementAndGet() == 0L) cleanable?.clean()"
    print "        }"
    print "    }"
    fields[class]++
    next
}
class == "AppKey" && /^    override fun `signRequest(WithNonce)?`\(`method`: kotlin\.String, `path`: kotlin\.String, `query`: kotlin\.String, `body`: kotlin\.String(, `nonce`: kotlin\.String)?\): SignedRequest \{$/ {
    name = $0 ~ /WithNonce/ ? "signRequestWithNonce" : "signRequest"
    nonce = $0 ~ /WithNonce/ ? "`nonce`" : "null"
    wrap($0, name, \
        "        return uniffiWithBorrowedHandle { DirectSigning.sign(it, `method`, `path`, `query`, `body`, " nonce ") }\n" \
        "            ?: uniffi" toupper(substr(name, 1, 1)) substr(name, 2) "(" call_args($0) ")", "DirectSigning")
    next
}
class == "AsyncOAuthClient" && /^    override suspend fun `getOrgToken`\(`clientId`: kotlin\.String, `orgId`: kotlin\.String\) ?: ?OrgToken ?\{$/ {
    wrap_suspend($0, "getOrgToken", \
        "        return DirectAsync.call(DirectAsync.GET_ORG_TOKEN, `clientId`, `orgId`) { start -> uniffiWithBorrowedHandle(start) }\n" \
        "            ?: uniffiGetOrgToken(`clientId`, `orgId`)", "DirectAsync")
    next
}
class == "AsyncOAuthClient" && /^    override suspend fun `refreshOrgToken`\(`clientId`: kotlin\.String, `refreshToken`: Secret\) ?: ?OrgToken ?\{$/ {
    wrap_suspend($0, "refreshOrgToken", \
        "        return DirectAsync.call(DirectAsync.REFRESH_ORG_TOKEN, `clientId`, `refreshToken`.value) { start -> uniffiWithBorrowedHandle(start) }\n" \
        "            ?: uniffiRefreshOrgToken(`clientId`, `refreshToken`)", "DirectAsync")
    next
}
{ print }

END {
    n = split("TokenManager TokenManager.destroy TokenManager.accessToken TokenManager.authorizationHeader TokenManager.invalidate " \
        "AsyncTokenManager AsyncTokenManager.constructor AsyncTokenManager.accessToken AsyncTokenManager.authorizationHeader " \
        "ContinuationCallback " \
        "AppKey AppKey.signRequest AppKey.signRequestWithNonce " \
        "AsyncOAuthClient AsyncOAuthClient.getOrgToken AsyncOAuthClient.refreshOrgToken", edits, " ")
    for (i = 1; i <= n; i++) printf "%s%s=%d", (i > 1 ? " " : ""), edits[i], fields[edits[i]] + wrapped[edits[i]] > "/dev/stderr"
    print "" > "/dev/stderr"
}
