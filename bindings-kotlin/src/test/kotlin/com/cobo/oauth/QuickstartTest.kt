package com.cobo.oauth

import com.cobo.oauth.quickstart.getAndRefresh
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import org.junit.jupiter.api.fail

/** The README's Kotlin quickstart is quickstart/Quickstart.kt, and it runs. */
@ExtendWith(MockServerExtension::class)
class QuickstartTest(private val mock: MockServer) {
    private val app = mock.newApp()
    private val privateKeyHex = app.key.privateKeyHex().value

    @Test
    fun `the README shows Quickstart kt`() {
        val source = Repo.text("bindings-kotlin/src/test/kotlin/com/cobo/oauth/quickstart/Quickstart.kt")
        val region = source.substringAfter("// quickstart:begin\n").substringBefore("// quickstart:end")
        assertTrue(region.contains("fun getAndRefresh("))
        val readme = Repo.text("bindings-kotlin/README.md")
        assertTrue(readme.contains("```kotlin\n$region```")) { "bindings-kotlin/README.md must show the quickstart region verbatim" }
    }

    @Test
    fun `it gets and refreshes a token`() {
        val token = getAndRefresh(privateKeyHex, app.clientId, app.orgId, mock.config()) ?: fail("no token")
        assertEquals("Bearer", token.tokenType)
    }

    /** The root README's walkthrough, Kotlin step: main() in a fresh JVM, from the exported variables alone. */
    @Test
    fun `main reads the walkthrough's variables`() {
        val environment = mapOf(
            "COBO_ENV" to "sandbox", "COBO_APP_PRIVATE_KEY" to privateKeyHex, "COBO_CLIENT_ID" to app.clientId,
            "COBO_ORG_ID" to app.orgId, "COBO_BASE_URL" to mock.baseUrl, "COBO_RESPONSE_PUBLIC_KEY" to mock.responsePublicKey,
        )
        val child = ChildJvm.start(ChildJvm.testClassPath, "com.cobo.oauth.quickstart.QuickstartKt", emptyList(), environment)
        val output = child.inputStream.bufferedReader().readText()
        assertEquals(0, child.waitFor())
        assertTrue(output.lines().any { it.startsWith("refreshed; expires at 20") }) { output }
    }

    @Test
    fun `it returns null when Cobo refuses`() {
        assertNull(getAndRefresh(privateKeyHex, app.clientId, "org-that-never-installed", mock.config()))
    }

    @Test
    fun `it rethrows server errors`() {
        mock.queueFault(JSONObject().put("kind", "server_error").put("error_id", "feedface"), "refresh")
        try {
            val e = assertThrows<CoboOAuthException.Server> { getAndRefresh(privateKeyHex, app.clientId, app.orgId, mock.config()) }
            assertEquals("feedface", e.errorId)
        } finally {
            mock.reset()
        }
    }
}
