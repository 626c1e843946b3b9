package com.cobo.oauth

import com.sun.jna.Native

/**
 * [AppKey.signRequest] and [AppKey.signRequestWithNonce] in one JNA call
 * (`cobo_oauth_direct_sign_v1`, core/src/ffi/direct_signing.rs, built with the core's
 * `kotlin-direct-signing` feature): the strings go in one byte array and every answer
 * comes back in another, so the call allocates no JNA structure. Through UniFFI the same
 * signature took six calls, each allocating its call status and buffers by reflection,
 * about ten times the signature's own cost.
 *
 * The core still makes the nonce, the content, the digest and the signature. Anything
 * this path does not take (a surrogate pair, a nonce over 255 bytes, a library without
 * the symbols) returns null, and the generated UniFFI call runs instead, with its typed
 * errors.
 */
internal object DirectSigning {
    private const val HEAD = 64 + 128 + 64 + 1 // api key, signature, digest (hex), nonce length
    private const val CLOCK_NONCE_MAX = 20 // digits of a u64

    /** False if the loaded library lacks these entry points: every signature then takes the UniFFI path. */
    val available: Boolean = try {
        UniffiLib.ensureInitialized() // loads the library, after UniFFI's contract and checksum checks
        Native.register(DirectSigning::class.java, Native.getNativeLibrary(UniffiLib::class.java))
        true
    } catch (e: UnsatisfiedLinkError) {
        false
    }

    external fun cobo_oauth_direct_sign_v1(
        key: Long, input: ByteArray, methodLen: Int, pathLen: Int, queryLen: Int, bodyLen: Int, nonceLen: Int,
        out: ByteArray, outLen: Int,
    ): Int

    /** Drops a handle from `uniffiCloneHandle()` (what the tests clone to call [sign] with). */
    external fun cobo_oauth_direct_release_v1(key: Long)

    /** The signed request, or null to take the UniFFI path. [key] is a live AppKey's handle, kept by the caller. */
    fun sign(key: Long, method: String, path: String, query: String, body: String, nonce: String?): SignedRequest? {
        if (hasSurrogates(method, path, query, body, nonce ?: "")) return null
        val parts = arrayOf(method, path, query, body, nonce ?: "").map { it.toByteArray(Charsets.UTF_8) }
        val input = ByteArray(parts.sumOf { it.size })
        parts.fold(0) { at, part -> part.copyInto(input, at); at + part.size }
        // The nonce is written twice: on its own and inside the content.
        val nonceMax = if (nonce == null) CLOCK_NONCE_MAX else parts[4].size
        val out = ByteArray(HEAD + 2 * nonceMax + input.size + 4)
        try {
            val contentLen = cobo_oauth_direct_sign_v1(
                key, input, parts[0].size, parts[1].size, parts[2].size, parts[3].size, if (nonce == null) -1 else parts[4].size,
                out, out.size,
            )
            if (contentLen < 0) return null
            val nonceLen = out[HEAD - 1].toInt() and 0xff
            return SignedRequest(
                apiKey = String(out, 0, 64, Charsets.ISO_8859_1),
                nonce = String(out, HEAD, nonceLen, Charsets.UTF_8),
                signature = String(out, 64, 128, Charsets.ISO_8859_1),
                content = Secret(String(out, HEAD + nonceLen, contentLen, Charsets.UTF_8)),
                digest = String(out, 192, 64, Charsets.ISO_8859_1),
            )
        } finally {
            // A refresh request's body holds the refresh token.
            input.fill(0)
            out.fill(0)
        }
    }

    /** Lone surrogates must fail as UniFFI fails them; pairs are rare enough to send that way too. */
    private fun hasSurrogates(vararg texts: String): Boolean = texts.any { text -> text.any(Char::isSurrogate) }
}
