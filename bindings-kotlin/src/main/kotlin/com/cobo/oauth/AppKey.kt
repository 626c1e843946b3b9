package com.cobo.oauth

import java.lang.ref.Reference
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong

/**
 * The Portal App's Ed25519 key: UniFFI's generated [UniffiAppKey], whose [signRequest] and
 * [signRequestWithNonce] make one JNA call ([DirectSigning]) instead of UniFFI's six, each
 * of which allocates JNA structures by reflection. What the direct call declines (see
 * [DirectSigning.sign]) takes the generated call, with its typed errors. The secret is
 * zeroized when the last handle on it goes: [close] it, or leave it to the cleaner.
 */
open class AppKey : UniffiAppKey {
    /** From a 64-hex-char seed, or the 128-hex-char seed‖public form (halves checked). */
    @Throws(CoboOAuthException::class)
    constructor(privateKeyHex: Secret) : super(privateKeyHex)

    /** Takes over [handle], one UniFFI handle of a key (see [FfiConverterTypeAppKey]). */
    internal constructor(handle: Long) : super(UniffiWithHandle, handle)

    /**
     * 1 until [destroy], plus one per direct call in flight: the direct calls borrow this
     * object's own [handle], so the generated destroy (which frees it) waits for the last.
     */
    private val directCalls = AtomicLong(1)
    private val destroyed = AtomicBoolean(false)

    override fun signRequest(method: String, path: String, query: String, body: String): SignedRequest =
        signDirectly(method, path, query, body, null) ?: super.signRequest(method, path, query, body)

    override fun signRequestWithNonce(method: String, path: String, query: String, body: String, nonce: String): SignedRequest =
        signDirectly(method, path, query, body, nonce) ?: super.signRequestWithNonce(method, path, query, body, nonce)

    override fun destroy() {
        if (destroyed.compareAndSet(false, true) && directCalls.decrementAndGet() == 0L) super.destroy()
    }

    /** [DirectSigning.sign] with this key's handle, or null (the library lacks it, or it declines). */
    private fun signDirectly(method: String, path: String, query: String, body: String, nonce: String?): SignedRequest? {
        if (!DirectSigning.available) return null
        do {
            val c = directCalls.get()
            check(c != 0L) { "AppKey object has already been destroyed" }
        } while (!directCalls.compareAndSet(c, c + 1))
        try {
            return DirectSigning.sign(handle, method, path, query, body, nonce)
        } finally {
            if (directCalls.decrementAndGet() == 0L) super.destroy()
            Reference.reachabilityFence(this) // the generated cleaner must not free the handle mid-call
        }
    }

    companion object {
        /** A fresh random key pair from the operating system's CSPRNG. */
        @Throws(CoboOAuthException::class)
        fun generate(): AppKey = UniffiAppKey.generate()
    }
}

/**
 * UniFFI 0.32's `[bindings.kotlin.rename]` skips the return type of named constructors:
 * the generated `UniffiAppKey.generate()` still returns `AppKey` (this class) through
 * `FfiConverterTypeAppKey`, which the rename left ungenerated. This is that converter,
 * so the generated constructor makes an [AppKey]. Once UniFFI renames it too, generate()
 * above returns a `UniffiAppKey` and stops compiling: then wrap it, and delete this.
 */
internal object FfiConverterTypeAppKey {
    fun lift(value: Long): AppKey = AppKey(value)
}
