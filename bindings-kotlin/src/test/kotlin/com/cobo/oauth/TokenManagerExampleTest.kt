package com.cobo.oauth

import com.cobo.oauth.quickstart.WaasAuth
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path

/** The README's "Token manager" example is quickstart/TokenManagerExample.kt, and it runs. */
@ExtendWith(MockServerExtension::class)
class TokenManagerExampleTest(private val mock: MockServer) {
    @Test
    fun `the README shows TokenManagerExample kt`() {
        val source = Repo.text("bindings-kotlin/src/test/kotlin/com/cobo/oauth/quickstart/TokenManagerExample.kt")
        val region = source.substringAfter("// token-manager:begin\n").substringBefore("// token-manager:end")
        assertTrue(region.contains("class WaasAuth("))
        val readme = Repo.text("bindings-kotlin/README.md")
        assertTrue(readme.contains("```kotlin\n$region```")) { "bindings-kotlin/README.md must show the token-manager region verbatim" }
    }

    @Test
    fun `it gives headers, across restarts, and null once the org withdrew`(@TempDir dir: Path) {
        val app = mock.newApp()
        val file = dir.resolve("tokens.json").toString()
        OAuthClient(app.key, mock.config()).use { client ->
            mock.reset()
            val header = WaasAuth(client, app.clientId, file).use { it.authorization(app.orgId) }
            assertTrue(header!!.startsWith("Bearer "))
            WaasAuth(client, app.clientId, file).use { auth ->
                assertEquals(header, auth.authorization(app.orgId))
                assertEquals(1, mock.counters().getInt("get"), "the restart reused the saved token")
                assertNull(auth.authorization("org-that-never-installed"))
            }
        }
    }
}
