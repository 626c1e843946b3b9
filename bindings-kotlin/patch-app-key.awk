# Wires DirectSigning (src/main/kotlin) into the generated AppKey; run by
# generate-bindings.sh, which checks the counts this prints to stderr.
#
# - signRequest and signRequestWithNonce try DirectSigning first (one JNA call, no JNA
#   structures) and fall back to the generated UniFFI call, renamed `uniffi<Name>` and
#   made private, when it declines;
# - DirectSigning borrows the object's handle under the generated call counter, as
#   callWithHandle does, minus the handle's clone (itself an FFI call): the counter keeps
#   the Rust object alive until the call returns, and a destroyed key throws as before.

/^(open |data |sealed |enum |internal |public |private )?(class|object|interface) / { in_key = 0 }
/^open class AppKey ?: ?Disposable, AutoCloseable, AppKeyInterface/ { in_key = 1 }

in_key && $0 == "    private val callCounter = AtomicLong(1)" {
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
    helpers++
    next
}

in_key && $0 == "    override fun `signRequest`(`method`: kotlin.String, `path`: kotlin.String, `query`: kotlin.String, `body`: kotlin.String): SignedRequest {" {
    print "    override fun `signRequest`(`method`: kotlin.String, `path`: kotlin.String, `query`: kotlin.String, `body`: kotlin.String): SignedRequest { // generate-bindings.sh: DirectSigning"
    print "        return uniffiWithBorrowedHandle { DirectSigning.sign(it, `method`, `path`, `query`, `body`, null) }"
    print "            ?: uniffiSignRequest(`method`, `path`, `query`, `body`)"
    print "    }"
    print "    private fun uniffiSignRequest(`method`: kotlin.String, `path`: kotlin.String, `query`: kotlin.String, `body`: kotlin.String): SignedRequest {"
    wrapped++
    next
}

in_key && $0 == "    override fun `signRequestWithNonce`(`method`: kotlin.String, `path`: kotlin.String, `query`: kotlin.String, `body`: kotlin.String, `nonce`: kotlin.String): SignedRequest {" {
    print "    override fun `signRequestWithNonce`(`method`: kotlin.String, `path`: kotlin.String, `query`: kotlin.String, `body`: kotlin.String, `nonce`: kotlin.String): SignedRequest { // generate-bindings.sh: DirectSigning"
    print "        return uniffiWithBorrowedHandle { DirectSigning.sign(it, `method`, `path`, `query`, `body`, `nonce`) }"
    print "            ?: uniffiSignRequestWithNonce(`method`, `path`, `query`, `body`, `nonce`)"
    print "    }"
    print "    private fun uniffiSignRequestWithNonce(`method`: kotlin.String, `path`: kotlin.String, `query`: kotlin.String, `body`: kotlin.String, `nonce`: kotlin.String): SignedRequest {"
    wrapped++
    next
}
{ print }

END { printf "helpers=%d wrapped=%d\n", helpers, wrapped > "/dev/stderr" }
