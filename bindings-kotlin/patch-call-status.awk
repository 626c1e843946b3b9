# Replaces the body of the generated uniffiRustCallWithError (every FFI call goes
# through it) so that each thread reuses one UniffiRustCallStatus; run by
# generate-bindings.sh, which checks the count this prints to stderr.
#
# Why: UniFFI 0.32 allocates a JNA Structure per call (native memory, reflection over
# its fields, a cleaner), and a simple call makes several FFI calls (each String
# argument is lowered through RustBuffer.alloc). That allocation was most of the cost
# of signing from Kotlin.
# Safe under re-entry: a call made while another is in flight on the same thread (a
# Kotlin TokenStore called from Rust, calling Rust again) finds the slot empty and
# uses a fresh status; the slot gets a status back in `finally`.

$0 == "private inline fun <U, E: kotlin.Exception> uniffiRustCallWithError(errorHandler: UniffiRustCallStatusErrorHandler<E>, callback: (UniffiRustCallStatus) -> U): U {" {
    getline l1; getline l2; getline l3; getline l4; getline l5
    if (l1 != "    var status = UniffiRustCallStatus()" || l2 != "    val return_value = callback(status)" ||
        l3 != "    uniffiCheckCallStatus(errorHandler, status)" || l4 != "    return return_value" || l5 != "}") {
        print "uniffiRustCallWithError has an unexpected body" > "/dev/stderr"
        exit 1
    }
    print "// generate-bindings.sh: one reusable UniffiRustCallStatus per thread (see patch-call-status.awk)."
    print "private val uniffiCallStatusSlot: ThreadLocal<Array<UniffiRustCallStatus?>> ="
    print "    ThreadLocal.withInitial { arrayOfNulls<UniffiRustCallStatus>(1) }"
    print ""
    print $0
    print "    val slot = uniffiCallStatusSlot.get()"
    print "    val status = slot[0] ?: UniffiRustCallStatus()"
    print "    slot[0] = null"
    print "    try {"
    print "        status.code = UNIFFI_CALL_SUCCESS"
    print "        status.error_buf.capacity = 0"
    print "        status.error_buf.len = 0"
    print "        status.error_buf.data = null"
    print "        val return_value = callback(status)"
    print "        uniffiCheckCallStatus(errorHandler, status)"
    print "        return return_value"
    print "    } finally {"
    print "        slot[0] = status"
    print "    }"
    print "}"
    patched++
    next
}
{ print }

END { printf "uniffiRustCallWithError=%d\n", patched > "/dev/stderr" }
