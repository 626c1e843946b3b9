package com.cobo.oauth

import com.cobo.oauth.quickstart.headersForOrgs
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith

/** The README's "Coroutines" example is quickstart/AsyncExample.kt, and it runs. */
@ExtendWith(MockServerExtension::class)
class AsyncExampleTest(private val mock: MockServer) {
    @Test
    fun `the README shows AsyncExample kt`() {
        val source = Repo.text("bindings-kotlin/src/test/kotlin/com/cobo/oauth/quickstart/AsyncExample.kt")
        val region = source.substringAfter("// async:begin\n").substringBefore("// async:end")
        assertTrue(region.contains("suspend fun authorizationHeaders("))
        val readme = Repo.text("bindings-kotlin/README.md")
        assertTrue(readme.contains("```kotlin\n$region```")) { "bindings-kotlin/README.md must show the async region verbatim" }
    }

    @Test
    fun `it gets a header per org, one request each`() {
        val app = mock.newApp()
        val orgs = listOf(app.orgId, "org-b-${app.clientId}")
        mock.register(app, orgs)
        OAuthClient(app.key, mock.config()).use { client ->
            mock.reset()
            val headers = headersForOrgs(client, app.clientId, orgs)
            assertEquals(orgs.toSet(), headers.keys)
            assertTrue(headers.values.all { it.startsWith("Bearer ") })
            assertEquals(2, mock.counters().getInt("get"))
        }
    }
}
