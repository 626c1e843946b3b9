package com.cobo.oauth

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

    /** This key's own handle for the direct calls; null when the library lacks them. */
    private val direct: DirectSigning.Key? = DirectSigning.keyFor(this)

    override fun signRequest(method: String, path: String, query: String, body: String): SignedRequest =
        direct?.sign(method, path, query, body, null) ?: super.signRequest(method, path, query, body)

    override fun signRequestWithNonce(method: String, path: String, query: String, body: String, nonce: String): SignedRequest =
        direct?.sign(method, path, query, body, nonce) ?: super.signRequestWithNonce(method, path, query, body, nonce)

    override fun destroy() {
        super.destroy()
        direct?.close()
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
