package com.cobo.oauth

import org.json.JSONArray
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows

/** HTTPS against the TLS mock (`cobo-oauth-mock --tls`): trust, faults, the manager, a proxy. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HttpsTest {
    private val tls = MockServer.start("--tls")
    private val app = tls.newApp()
    private val faults = JSONArray(Repo.text("tests/faults.json")).objects().associateBy { it.getString("name") }

    @AfterAll
    fun stop() = tls.close()

    @Test
    fun `get and refresh over https trusting the mock's CA`() {
        assertTrue(tls.baseUrl.startsWith("https://127.0.0.1:"), tls.baseUrl)
        OAuthClient(app.key, tls.config()).use { client ->
            val first = client.getOrgToken(app.clientId, app.orgId)
            val second = client.refreshOrgToken(app.clientId, first.refreshToken)
            assertNotEquals(first.refreshToken, second.refreshToken)
        }
    }

    @Test
    fun `without the CA the certificate is refused as an unknown issuer`() {
        OAuthClient(app.key, tls.config().copy(extraCaPem = null, maxRetries = 0u)).use { client ->
            val e = assertThrows<CoboOAuthException.Transport> { client.getOrgToken(app.clientId, app.orgId) }
            assertTrue(e.reason.contains("invalid peer certificate: UnknownIssuer"), e.reason)
        }
    }

    @Test
    fun `a PEM without a certificate is an invalid argument`() {
        val e = assertThrows<CoboOAuthException.InvalidArgument> {
            OAuthClient(app.key, tls.config().copy(extraCaPem = "not a certificate"))
        }
        assertTrue(e.reason.startsWith("extra_ca_pem: "), e.reason)
    }

    @Test
    fun `the token manager works over https`() {
        OAuthClient(app.key, tls.config()).use { client ->
            TokenManager(client, app.clientId).use { manager ->
                assertTrue(manager.authorizationHeader(app.orgId).value.startsWith("Bearer "))
            }
        }
    }

    @Test
    fun `two matrix faults over https`() {
        OAuthClient(app.key, tls.config().copy(maxRetries = 0u)).use { client ->
            val serverError = faults.getValue("refresh_server_error_500")
            val token = client.getOrgToken(app.clientId, app.orgId)
            tls.queueFault(serverError.getJSONObject("fault"), "refresh")
            val e = assertThrows<CoboOAuthException.Server> { client.refreshOrgToken(app.clientId, token.refreshToken) }
            assertEquals(serverError.getJSONObject("expect").getInt("status").toUShort(), e.status)

            val truncated = faults.getValue("get_truncated_body")
            assertEquals("Transport", truncated.getJSONObject("expect").getString("variant"))
            tls.queueFault(truncated.getJSONObject("fault"), "get")
            assertThrows<CoboOAuthException.Transport> { client.getOrgToken(app.clientId, app.orgId) }
        }
    }

    @Test
    fun `an explicit proxy tunnels the request and sees no clear text`() {
        ConnectProxy.start().use { proxy ->
            OAuthClient(app.key, tls.config().copy(proxyUrl = Secret(proxy.proxyUrl))).use { client ->
                client.getOrgToken(app.clientId, app.orgId)
            }
            val seen = proxy.seen()
            val authority = tls.baseUrl.removePrefix("https://").removeSuffix("/v2")
            assertEquals(listOf(authority), seen.getJSONArray("connect").toList())
            assertEquals(0, seen.getJSONArray("plaintext").length())
        }
    }

    @Test
    fun `a refusing proxy is a transport error that never shows its credentials`() {
        ConnectProxy.start("--refuse", "407").use { proxy ->
            val url = proxy.proxyUrl.replace("http://", "http://app:s3cret-pw@")
            val config = tls.config().copy(proxyUrl = Secret(url), maxRetries = 0u)
            assertFalse(config.toString().contains("s3cret-pw"), config.toString())
            OAuthClient(app.key, config).use { client ->
                val e = assertThrows<CoboOAuthException.Transport> { client.getOrgToken(app.clientId, app.orgId) }
                assertFalse("$e ${e.message}".contains("s3cret-pw"), e.toString())
            }
            assertEquals(1, proxy.seen().getInt("refused"))
        }
    }
}
