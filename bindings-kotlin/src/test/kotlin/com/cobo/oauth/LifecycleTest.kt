package com.cobo.oauth

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertDoesNotThrow
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith

/** Objects are AutoCloseable: `use {}` frees the Rust side; a closed object refuses calls. */
@ExtendWith(MockServerExtension::class)
class LifecycleTest(private val mock: MockServer) {
    @Test
    fun `objects are AutoCloseable`() {
        assertTrue(AutoCloseable::class.java.isAssignableFrom(AppKey::class.java))
        assertTrue(AutoCloseable::class.java.isAssignableFrom(ResponseVerifier::class.java))
        assertTrue(AutoCloseable::class.java.isAssignableFrom(OAuthClient::class.java))
    }

    @Test
    fun `use closes the object and later calls throw IllegalStateException`() {
        val key = AppKey.generate()
        val apiKey = key.use { it.apiKey() }
        assertEquals(64, apiKey.length)
        assertTrue(key.uniffiIsDestroyed)
        val e = assertThrows<IllegalStateException> { key.apiKey() }
        assertTrue(e.message!!.contains("destroyed"))
    }

    @Test
    fun `close is idempotent`() {
        val verifier = ResponseVerifier(Environment.PROD)
        verifier.close()
        assertDoesNotThrow { verifier.close() }
        assertThrows<IllegalStateException> { verifier.verify(ByteArray(0), "1", "00") }
    }

    @Test
    fun `a client keeps working after the key passed to it is closed`() {
        val app = mock.newApp()
        OAuthClient(app.key, mock.config()).use { client ->
            app.key.close()
            assertEquals("Bearer", client.getOrgToken(app.clientId, app.orgId).tokenType)
        }
    }

    @Test
    fun `a closed client refuses calls`() {
        val app = mock.newApp()
        val client = OAuthClient(app.key, mock.config())
        client.use { assertFalse(it.uniffiIsDestroyed) }
        assertThrows<IllegalStateException> { client.getOrgToken(app.clientId, app.orgId) }
        assertThrows<IllegalStateException> { client.baseUrl() }
    }
}
