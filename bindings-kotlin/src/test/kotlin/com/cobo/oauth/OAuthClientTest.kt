package com.cobo.oauth

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.time.Duration
import java.time.Instant

/** Both operations against the mock server, and what the server counted. */
@ExtendWith(MockServerExtension::class)
class OAuthClientTest(private val mock: MockServer) {
    private val app = mock.newApp()

    @Test
    fun `getOrgToken returns a token that expires by the clock`() {
        OAuthClient(app.key, mock.config()).use { client ->
            val before = Instant.now()
            val token = client.getOrgToken(app.clientId, app.orgId)
            assertEquals("Bearer", token.tokenType)
            assertEquals("", token.scope)
            assertEquals(43199L, token.expiresIn)
            assertTrue(token.accessToken.value.isNotEmpty())
            assertTrue(token.refreshToken.value.isNotEmpty())
            val expected = before.plusSeconds(token.expiresIn)
            assertTrue(Duration.between(expected, token.expiresAt).abs() < Duration.ofSeconds(5)) {
                "expiresAt ${token.expiresAt}, expected about $expected"
            }
        }
    }

    @Test
    fun `refreshOrgToken rotates both tokens`() {
        OAuthClient(app.key, mock.config()).use { client ->
            val first = client.getOrgToken(app.clientId, app.orgId)
            val second = client.refreshOrgToken(app.clientId, first.refreshToken)
            assertNotEquals(first.accessToken, second.accessToken)
            assertNotEquals(first.refreshToken, second.refreshToken)
            val third = client.refreshOrgToken(app.clientId, second.refreshToken)
            assertNotEquals(second.refreshToken, third.refreshToken)
        }
    }

    @Test
    fun `a spent refresh token is refused with invalid_grant`() {
        OAuthClient(app.key, mock.config()).use { client ->
            val first = client.getOrgToken(app.clientId, app.orgId)
            client.refreshOrgToken(app.clientId, first.refreshToken)
            val e = assertThrows<CoboOAuthException.OAuth> { client.refreshOrgToken(app.clientId, first.refreshToken) }
            assertEquals(400.toUShort(), e.status)
            assertEquals("invalid_grant", e.error)
            assertTrue(e.errorDescription.isNotEmpty())
        }
    }

    @Test
    fun `an org that did not install the app is refused`() {
        OAuthClient(app.key, mock.config()).use { client ->
            val e = assertThrows<CoboOAuthException.OAuth> { client.getOrgToken(app.clientId, "org-not-installed") }
            assertTrue(e.status.toInt() in 400..499) { "status ${e.status}" }
        }
    }

    @Test
    fun `a key the server does not know is refused`() {
        AppKey.generate().use { stranger ->
            OAuthClient(stranger, mock.config()).use { client ->
                val e = assertThrows<CoboOAuthException.OAuth> { client.getOrgToken(app.clientId, app.orgId) }
                assertEquals(401.toUShort(), e.status)
            }
        }
    }

    @Test
    fun `baseUrl is the configured one, or the environment's`() {
        OAuthClient(app.key, mock.config()).use { assertEquals(mock.baseUrl, it.baseUrl()) }
        OAuthClient(app.key, ClientConfig()).use { assertEquals("https://api.cobo.com/v2", it.baseUrl()) }
        OAuthClient(app.key, ClientConfig(environment = Environment.SANDBOX)).use {
            assertEquals("https://api.sandbox.cobo.com/v2", it.baseUrl())
        }
        OAuthClient(app.key, ClientConfig(environment = Environment.DEV)).use {
            assertEquals("https://api.dev.cobo.com/v2", it.baseUrl())
        }
    }

    @Test
    fun `signRequest uses strictly increasing nonces and signs what it is given`() {
        val first = app.key.signRequest("GET", "/v2/oauth/token", "a=1", "")
        val second = app.key.signRequest("GET", "/v2/oauth/token", "a=1", "")
        assertTrue(second.nonce.toLong() > first.nonce.toLong())
        assertEquals(app.key.apiKey(), first.apiKey)
        assertEquals(canonicalContent("GET", "/v2/oauth/token", first.nonce, "a=1", ""), first.content.value)
        assertEquals(contentDigest(first.content.value), first.digest)
        assertEquals(first, app.key.signRequestWithNonce("GET", "/v2/oauth/token", "a=1", "", first.nonce))
    }

    @Test
    fun `a generated key survives a round trip through privateKeyHex`() {
        AppKey.generate().use { key ->
            val hex = key.privateKeyHex()
            assertEquals(64, hex.value.length)
            AppKey(hex).use { assertEquals(key.apiKey(), it.apiKey()) }
        }
    }

    @Test
    fun `verifyWebhook checks against the environment's key`() {
        // A signature by the mock's key never verifies against Cobo's production key.
        val e = assertThrows<CoboOAuthException.ResponseSignature> {
            verifyWebhook("{}".toByteArray(), "1718000000123", "00".repeat(64), Environment.PROD)
        }
        assertTrue(e.reason.isNotEmpty())
        ResponseVerifier(Environment.SANDBOX).use { verifier ->
            assertThrows<CoboOAuthException.ResponseSignature> { verifier.verify(ByteArray(0), "1", "00".repeat(64)) }
        }
    }

    @Test
    fun `the server counts each operation once`() {
        OAuthClient(app.key, mock.config()).use { client ->
            mock.reset()
            val token = client.getOrgToken(app.clientId, app.orgId)
            client.refreshOrgToken(app.clientId, token.refreshToken)
            val counters = mock.counters()
            assertEquals(1, counters.getInt("get"))
            assertEquals(1, counters.getInt("refresh"))
            assertEquals(0, counters.getInt("rejected"))
        }
    }
}
