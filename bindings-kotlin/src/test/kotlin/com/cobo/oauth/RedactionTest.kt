package com.cobo.oauth

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith

/** Keys and tokens never show in toString() of a Secret, a record or an exception. */
@ExtendWith(MockServerExtension::class)
class RedactionTest(private val mock: MockServer) {
    private val app = mock.newApp()

    private fun assertHidden(printed: String, vararg secrets: Secret) {
        for (secret in secrets) {
            assertFalse(printed.contains(secret.value)) { "a secret shows in: $printed" }
        }
    }

    @Test
    fun `Secret prints redacted and compares by value`() {
        val secret = Secret("hunter2")
        assertEquals("Secret(…)", secret.toString())
        assertEquals("token: Secret(…)", "token: $secret")
        assertEquals(Secret("hunter2"), secret)
        assertEquals(Secret("hunter2").hashCode(), secret.hashCode())
        assertNotEquals(Secret("hunter3"), secret)
        assertEquals("hunter2", secret.value)
    }

    @Test
    fun `OrgToken prints without its tokens`() {
        OAuthClient(app.key, mock.config()).use { client ->
            val token = client.getOrgToken(app.clientId, app.orgId)
            val printed = token.toString()
            assertHidden(printed, token.accessToken, token.refreshToken)
            assertEquals(true, printed.contains("accessToken=Secret(…)"), printed)
            assertEquals(true, printed.contains("refreshToken=Secret(…)"), printed)
            assertEquals(true, printed.contains("tokenType=Bearer"), printed)
        }
    }

    @Test
    fun `StoredToken and TokenManager print without tokens`() {
        OAuthClient(app.key, mock.config()).use { client ->
            TokenManager(client, app.clientId).use { manager ->
                val stored = manager.token(app.orgId)
                val printed = stored.toString()
                assertHidden(printed, stored.token.accessToken, stored.token.refreshToken)
                assertEquals(true, printed.contains("accessToken=Secret(…)"), printed)
                assertEquals(true, printed.contains("refreshToken=Secret(…)"), printed)
                assertEquals(true, printed.contains("refreshExpiresAt="), printed)
                assertEquals("Secret(…)", manager.authorizationHeader(app.orgId).toString())
                assertHidden(manager.toString(), stored.token.accessToken, stored.token.refreshToken)
            }
        }
    }

    @Test
    fun `AppKey prints without its private key`() {
        val private = app.key.privateKeyHex()
        assertEquals("Secret(…)", private.toString())
        assertHidden(app.key.toString(), private)
        assertHidden(app.key.signRequest("GET", "/v2/oauth/token", "", "").toString(), private)
    }

    @Test
    fun `a signed refresh request prints without the refresh token in its body`() {
        val refreshToken = "rK49jI0zt49gsttzscscik15Asmlpu1TdcxqguJJS8B9f6ilJEC0y3PbVqwsEAw5"
        val body = """{"client_id":"c","grant_type":"refresh_token","refresh_token":"$refreshToken"}"""
        val signed = app.key.signRequest("POST", "/v2/oauth/token", "", body)
        assertFalse(signed.toString().contains(refreshToken), signed.toString())
        assertEquals(true, signed.content.value.endsWith(body))
    }

    @Test
    fun `exceptions carry no key or token`() {
        val badKey = Secret("92e6f715e9fbf16368aa5a02e5e765b13f7d9136aacd9417fdf2e90059c98fd") // 63 hex chars
        val keyError = assertThrows<CoboOAuthException.InvalidKey> { AppKey(badKey) }
        assertHidden(keyError.toString(), badKey)

        OAuthClient(app.key, mock.config()).use { client ->
            val spent = client.getOrgToken(app.clientId, app.orgId)
            val fresh = client.refreshOrgToken(app.clientId, spent.refreshToken)
            val grantError = assertThrows<CoboOAuthException.OAuth> { client.refreshOrgToken(app.clientId, spent.refreshToken) }
            assertHidden(grantError.toString(), spent.refreshToken, spent.accessToken, fresh.refreshToken, app.key.privateKeyHex())
            assertHidden(grantError.stackTraceToString(), spent.refreshToken, app.key.privateKeyHex())
        }
    }
}
