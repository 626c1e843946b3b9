# Wires TokenLeaseCache (src/main/kotlin) into the generated TokenManager; run by
# generate-bindings.sh, which checks the counts this prints to stderr.
#
# - accessToken and authorizationHeader serve the org's lease from the Kotlin cache and
#   ask the core (lease) only when it ran out: a cached token costs no FFI call;
# - invalidate drops the org's lease after the core's invalidate and returns what the
#   core returned (the org id must be its first argument);
# - destroy forgets every lease.
# - AsyncTokenManager keeps the TokenManager it was made from; its accessToken and
#   authorizationHeader serve that manager's cached lease without a call into the core,
#   and on a miss await the core's future (no thread blocked while a renewal runs), then
#   record the renewed token's lease through the manager (a fresh token: one FFI call
#   that returns at once); coroutines missing at the same time share that one wait
#   (TokenWaits.kt).
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
# generated method behind it.
function wrap(line, name, body,    private_name, annotation, header) {
    private_name = "uniffi" toupper(substr(name, 1, 1)) substr(name, 2)
    annotation = ""
    if (match(line, /@Throws\([A-Za-z]+::class\)/)) annotation = substr(line, RSTART, RLENGTH) " "
    sub(/^    (@Throws\([A-Za-z]+::class\) ?)?override fun `[A-Za-z]+`\(/, "", line)
    header = line ~ /\{$/ ? line : line " {"   # a Unit method has an expression body
    print "    " annotation "override fun `" name "`(" header " // generate-bindings.sh: the Kotlin lease cache"
    print body
    print "    }"
    print "    private fun " private_name "(" line
    wrapped[name]++
}

# As wrap, for a suspend method whose annotations sit on lines of their own above it.
function wrap_suspend(line, name, body,    private_name) {
    private_name = "uniffi" toupper(substr(name, 1, 1)) substr(name, 2)
    sub(/^    override suspend fun `[A-Za-z]+`\(/, "", line)
    print "    override suspend fun `" name "`(" line " // generate-bindings.sh: the Kotlin lease cache"
    print body
    print "    }"
    print "    private suspend fun " private_name "(" line
    wrapped_async[name]++
}

# The class runs to the next top-level declaration (generated code has unindented
# braces inside it).
/^(open |data |sealed |enum |internal |public |private )?(class|object|interface) / { in_manager = 0; in_async = 0 }
/^open class TokenManager ?: ?Disposable, AutoCloseable, TokenManagerInterface/ { in_manager = 1 }
/^open class AsyncTokenManager ?: ?Disposable, AutoCloseable, AsyncTokenManagerInterface/ { in_async = 1 }

in_manager && $0 == "    private val callCounter = AtomicLong(1)" {
    print
    print "    private val uniffiLeases = TokenLeaseCache() // generate-bindings.sh"
    print "    internal fun uniffiCachedAccessToken(`orgId`: kotlin.String): Secret? = uniffiLeases.cached(`orgId`) // generate-bindings.sh"
    fields++
    next
}

in_async && $0 == "    private val callCounter = AtomicLong(1)" {
    print
    print "    @Volatile private var uniffiManager: TokenManager? = null // generate-bindings.sh: whose lease cache to read"
    print "    private val uniffiWaits = TokenWaits() // generate-bindings.sh"
    async_fields++
    next
}
in_async && $0 == "    constructor(`manager`: TokenManager) :" { in_constructor = 1 }
in_async && in_constructor && $0 == "    )" {
    print "    ) {"
    print "        uniffiManager = `manager` // generate-bindings.sh"
    print "    }"
    in_constructor = 0
    async_constructors++
    next
}
in_async && /^    override suspend fun `accessToken`\(`orgId`: kotlin\.String\) ?: ?Secret ?\{$/ {
    wrap_suspend($0, "accessToken", \
        "        val manager = uniffiManager ?: return uniffiAccessToken(`orgId`)\n" \
        "        manager.uniffiCachedAccessToken(`orgId`)?.let { return it }\n" \
        "        return uniffiWaits.accessToken(`orgId`) {\n" \
        "            val renewed = uniffiAccessToken(`orgId`)\n" \
        "            // Awaited without blocking; the token is fresh now, so its lease (kept for the\n" \
        "            // next call) comes back at once.\n" \
        "            if (manager.uniffiIsDestroyed) renewed else manager.accessToken(`orgId`)\n" \
        "        }")
    next
}
in_async && /^    override suspend fun `authorizationHeader`\(`orgId`: kotlin\.String\) ?: ?Secret ?\{$/ {
    wrap_suspend($0, "authorizationHeader", "        return Secret(\"Bearer \" + accessToken(`orgId`).value)")
    next
}
in_manager && $0 == "    override fun destroy() {" {
    print
    print "        uniffiLeases.clear() // generate-bindings.sh"
    destroys++
    next
}
in_manager && /^    (@Throws\([A-Za-z]+::class\) ?)?override fun `accessToken`\(`orgId`: kotlin\.String\) ?: ?Secret ?\{$/ {
    wrap($0, "accessToken", "        return uniffiLeases.accessToken(`orgId`, this)")
    next
}
in_manager && /^    (@Throws\([A-Za-z]+::class\) ?)?override fun `authorizationHeader`\(`orgId`: kotlin\.String\) ?: ?Secret ?\{$/ {
    wrap($0, "authorizationHeader", "        return Secret(\"Bearer \" + uniffiLeases.accessToken(`orgId`, this).value)")
    next
}
in_manager && /^    (@Throws\([A-Za-z]+::class\) ?)?override fun `invalidate`\(`orgId`: kotlin\.String[,)]/ {
    wrap($0, "invalidate", "        val current = uniffiInvalidate(" call_args($0) ")\n        uniffiLeases.drop(`orgId`)\n        return current")
    next
}
{ print }

END {
    printf "fields=%d destroys=%d accessToken=%d authorizationHeader=%d invalidate=%d", \
        fields, destroys, wrapped["accessToken"], wrapped["authorizationHeader"], wrapped["invalidate"] > "/dev/stderr"
    printf " async: fields=%d constructors=%d accessToken=%d authorizationHeader=%d\n", \
        async_fields, async_constructors, wrapped_async["accessToken"], wrapped_async["authorizationHeader"] > "/dev/stderr"
}
