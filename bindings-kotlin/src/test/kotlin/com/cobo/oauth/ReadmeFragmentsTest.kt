package com.cobo.oauth

import com.cobo.oauth.quickstart.reportRefusal
import com.cobo.oauth.quickstart.storeChoices
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path

/** The README's short fragments are regions of quickstart/ReadmeFragments.kt, and they run. */
@ExtendWith(MockServerExtension::class)
class ReadmeFragmentsTest(private val mock: MockServer) {
    private fun region(name: String): String =
        Repo.text("bindings-kotlin/src/test/kotlin/com/cobo/oauth/quickstart/ReadmeFragments.kt")
            .substringAfter("// $name:begin\n").substringBefore("// $name:end")

    private fun counter(name: String) = mock.counters().getInt(name)

    @Test
    fun `the README shows the fragments verbatim`() {
        val readme = Repo.text("bindings-kotlin/README.md")
        for (name in listOf("many-processes", "invalidate")) {
            assertTrue(region(name).isNotBlank()) { name }
            assertTrue(readme.contains("```kotlin\n${region(name)}```")) { "bindings-kotlin/README.md must show the $name region verbatim" }
        }
    }

    @Test
    fun `each store of the many-processes fragment serves the org a token`(@TempDir dir: Path) {
        val app = mock.newApp()
        val tokenFile = dir.resolve("cobo-tokens.json").toString()
        OAuthClient(app.key, mock.config()).use { client ->
            val database = CoordinationTest.MapCoordinatedStore()
            val managers = storeChoices(client, app.clientId, tokenFile, CoordinationWorker.redisUrl(), database)
            try {
                val gets = counter("get")
                val tokens = managers.map { it.accessToken(app.orgId).value }
                // Three stores share nothing: each got its own grant, and each keeps it.
                assertEquals(3, counter("get") - gets)
                assertEquals(3, tokens.toSet().size)
                assertEquals(tokens, managers.map { it.accessToken(app.orgId).value })
                assertEquals(3, counter("get") - gets)
                assertTrue(Files.exists(Path.of(tokenFile))) { "the file store wrote nothing at $tokenFile" }
                assertEquals(1UL, database.version(app.orgId), "the database store holds the org's token")
            } finally {
                managers.forEach { it.close() }
            }
        }
    }

    @Test
    fun `the invalidate fragment renews a refused token once, and only a refused one`() {
        val app = mock.newApp()
        OAuthClient(app.key, mock.config()).use { client ->
            TokenManager(client, app.clientId).use { manager ->
                val expired = """{"success":false,"error_code":2040,"error_message":"access token expired"}""".toByteArray()
                val failed = """{"success":false,"error_code":1000,"error_message":"internal error"}""".toByteArray()
                val first = reportRefusal(manager, app.orgId, 500, failed)
                val refreshes = counter("refresh")
                assertEquals(first.value, manager.accessToken(app.orgId).value, "a generic 500 leaves the token alone")
                val sent = reportRefusal(manager, app.orgId, 500, expired)
                assertEquals(first.value, sent.value)
                val renewed = manager.accessToken(app.orgId)
                assertNotEquals(sent.value, renewed.value)
                assertEquals(1, counter("refresh") - refreshes)
            }
        }
    }
}
