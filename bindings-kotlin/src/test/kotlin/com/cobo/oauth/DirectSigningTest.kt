package com.cobo.oauth

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.nio.charset.CharacterCodingException
import java.security.KeyFactory
import java.security.Signature
import java.security.spec.X509EncodedKeySpec
import java.util.HexFormat
import java.util.concurrent.Executors

/**
 * AppKey.signRequest through DirectSigning (one JNA call) and, for what it declines,
 * through UniFFI. VectorsTest checks both against PyNaCl's vectors; here each signature is
 * checked by the JDK's own Ed25519 and against the core's canonicalContent/contentDigest.
 */
class DirectSigningTest {
    private val key = AppKey.generate()

    /** The request is what the core would sign, and the JDK verifies its signature. */
    private fun assertSigns(method: String, path: String, query: String, body: String, nonce: String? = null) {
        val signed = if (nonce == null) key.signRequest(method, path, query, body) else key.signRequestWithNonce(method, path, query, body, nonce)
        nonce?.let { assertEquals(it, signed.nonce) }
        assertEquals(key.apiKey(), signed.apiKey)
        assertEquals(canonicalContent(method, path, signed.nonce, query, body), signed.content.value)
        assertEquals(contentDigest(signed.content.value), signed.digest)
        val publicKey = KeyFactory.getInstance("Ed25519")
            .generatePublic(X509EncodedKeySpec(HexFormat.of().parseHex("302a300506032b6570032100" + signed.apiKey)))
        val verifier = Signature.getInstance("Ed25519").apply { initVerify(publicKey); update(HexFormat.of().parseHex(signed.digest)) }
        assertTrue(verifier.verify(HexFormat.of().parseHex(signed.signature)), "the JDK verifies the signature")
    }

    @Test
    fun `the library has the direct entry point`() {
        assertTrue(DirectSigning.available, "libcobo_oauth lacks cobo_oauth_direct_sign_v1: every signature would take the slow path")
    }

    @Test
    fun `requests the direct path takes are signed as the core signs them`() {
        assertSigns("GET", "/v2/oauth/token", "client_id=a&org_id=b&grant_type=org_implicit", "")
        assertSigns("post", "/v2/oauth/token", "", """{"client_id":"a","grant_type":"refresh_token","refresh_token":"r"}""")
        assertSigns("GET", "/v2/wallets/é", "name=中文", "", nonce = "1718000000000")
        assertSigns("GET", "/", "", "", nonce = "")
        assertSigns("PUT", "/v2/x", "", "x".repeat(1 shl 20))
    }

    @Test
    fun `requests the direct path declines are signed by the UniFFI path`() {
        assertSigns("POST", "/v2/x", "", """{"note":"🔑"}""") // a surrogate pair
        assertSigns("GET", "/v2/x", "", "", nonce = "9".repeat(300)) // longer than the direct path's nonce
    }

    @Test
    fun `a lone surrogate fails as UniFFI fails it`() {
        assertThrows<CharacterCodingException> { key.signRequest("GET", "/v2/x", "", "\uD800") }
    }

    @Test
    fun `nonces strictly increase on every thread and are never handed out twice`() {
        val pool = Executors.newFixedThreadPool(8)
        try {
            val perThread = (1..8).map { pool.submit<List<Long>> { (1..2000).map { key.signRequest("GET", "/v2/x", "", "").nonce.toLong() } } }.map { it.get() }
            perThread.forEach { nonces -> assertTrue(nonces.zipWithNext().all { (a, b) -> a < b }) }
            val all = perThread.flatten()
            assertEquals(all.size, all.toSet().size)
        } finally {
            pool.shutdown()
        }
    }

    /**
     * What DirectSigning relies on: UniFFI's public `uniffiCloneHandle()` gives a Rust
     * object's handle, its Arc's address (the same value on every clone, never 0, even:
     * odd handles are Kotlin objects'), which the core's direct call lifts as UniFFI lifts
     * it. A UniFFI that changes this fails here, before any key signs through it.
     */
    @Test
    fun `UniFFI's handle of a key is the one the direct call reads`() {
        val generated = UniffiAppKey(key.privateKeyHex()) // the generated class: signs only through UniFFI
        val handle = generated.uniffiCloneHandle()
        val again = generated.uniffiCloneHandle()
        try {
            assertEquals(handle, again, "a clone of a Rust object's handle is the same address")
            assertTrue(handle != 0L && handle and 1L == 0L) { "not a Rust object's handle: $handle" }
            val args = arrayOf("GET", "/v2/x", "a=1", "")
            val direct = DirectSigning.sign(handle, args[0], args[1], args[2], args[3], "1718000000000")
            val viaUniffi = generated.signRequestWithNonce(args[0], args[1], args[2], args[3], "1718000000000")
            assertEquals(viaUniffi, direct)
        } finally {
            DirectSigning.cobo_oauth_direct_release_v1(handle)
            DirectSigning.cobo_oauth_direct_release_v1(again)
            generated.close()
        }
    }

    @Test
    fun `a closed key refuses to sign`() {
        val closed = AppKey.generate().apply { close() }
        assertThrows<IllegalStateException> { closed.signRequest("GET", "/v2/x", "", "") }
        assertThrows<IllegalStateException> { closed.signRequestWithNonce("GET", "/v2/x", "", "", "1") }
    }
}
