package com.cobo.oauth

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest.dynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith

/** Unusable keys, configurations and arguments fail with the right exception and send nothing. */
@ExtendWith(MockServerExtension::class)
class BadInputTest(private val mock: MockServer) {
    private val app = mock.newApp()

    @TestFactory
    fun `unusable configurations are InvalidArgument`() = mapOf(
        "custom base URL without a response key" to ClientConfig(baseUrl = mock.baseUrl),
        "plain http to a remote host" to ClientConfig(baseUrl = "http://api.cobo.com/v2", responsePublicKey = mock.responsePublicKey),
        "not a URL" to ClientConfig(baseUrl = "not a url", responsePublicKey = mock.responsePublicKey),
        "unsupported scheme" to ClientConfig(baseUrl = "ftp://127.0.0.1/v2", responsePublicKey = mock.responsePublicKey),
        "credentials in the URL" to ClientConfig(baseUrl = "https://user:pw@api.cobo.com/v2", responsePublicKey = mock.responsePublicKey),
        "response key not hex" to mock.config().copy(responsePublicKey = "zz".repeat(32)),
        "response key too short" to mock.config().copy(responsePublicKey = "ab"),
        "zero timeout" to mock.config().copy(timeoutMs = 0UL),
        "zero connect timeout" to mock.config().copy(connectTimeoutMs = 0UL),
        "too many retries" to mock.config().copy(maxRetries = 11U),
        "base delay above max delay" to mock.config().copy(retryBaseDelayMs = 3000UL, retryMaxDelayMs = 2000UL),
        "control character in the user agent" to mock.config().copy(userAgent = "agent\n"),
    ).map { (name, config) ->
        dynamicTest(name) {
            val e = assertThrows<CoboOAuthException.InvalidArgument> { OAuthClient(app.key, config) }
            assertTrue(e.reason.isNotEmpty())
        }
    }

    @Test
    fun `empty and oversized arguments are InvalidArgument and never sent`() {
        OAuthClient(app.key, mock.config()).use { client ->
            mock.reset()
            assertThrows<CoboOAuthException.InvalidArgument> { client.getOrgToken("", app.orgId) }
            assertThrows<CoboOAuthException.InvalidArgument> { client.getOrgToken(app.clientId, "  ") }
            assertThrows<CoboOAuthException.InvalidArgument> { client.getOrgToken(app.clientId, "x".repeat(5000)) }
            assertThrows<CoboOAuthException.InvalidArgument> { client.refreshOrgToken(app.clientId, Secret("")) }
            assertThrows<CoboOAuthException.InvalidArgument> { client.refreshOrgToken("", Secret("token")) }
            assertEquals(0, mock.counters().getInt("total"))
        }
    }

    @Test
    fun `unknown refresh tokens are refused by the server`() {
        OAuthClient(app.key, mock.config()).use { client ->
            val e = assertThrows<CoboOAuthException.OAuth> { client.refreshOrgToken(app.clientId, Secret("not-a-token")) }
            assertEquals(400.toUShort(), e.status)
            assertEquals("invalid_grant", e.error)
        }
    }

    @Test
    fun `malformed keys are InvalidKey or InvalidArgument`() {
        assertThrows<CoboOAuthException.InvalidKey> { AppKey(Secret("not hex")) }
        assertThrows<CoboOAuthException.InvalidArgument> { ResponseVerifier.withKey("not hex") }
        assertThrows<CoboOAuthException.InvalidArgument> {
            verifyWebhookWithKey(ByteArray(0), "1", "00".repeat(64), "abc")
        }
    }

    @Test
    fun `a malformed signature is a ResponseSignature error`() {
        ResponseVerifier.withKey(mock.responsePublicKey).use { verifier ->
            assertThrows<CoboOAuthException.ResponseSignature> { verifier.verify(ByteArray(0), "1", "not hex") }
            assertThrows<CoboOAuthException.ResponseSignature> { verifier.verify(ByteArray(0), "1", "") }
        }
    }

    @Test
    fun `nothing listening is a Transport error`() {
        val closedPort = java.net.ServerSocket(0).use { it.localPort }
        val config = mock.config().copy(baseUrl = "http://127.0.0.1:$closedPort/v2", maxRetries = 0U)
        OAuthClient(app.key, config).use { client ->
            val e = assertThrows<CoboOAuthException.Transport> { client.getOrgToken(app.clientId, app.orgId) }
            assertTrue(e.reason.isNotEmpty())
        }
    }
}
