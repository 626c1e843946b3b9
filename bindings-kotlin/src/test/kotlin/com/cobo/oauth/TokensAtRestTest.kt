package com.cobo.oauth

import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path

/**
 * Tokens at rest, from Kotlin: the file store seals what it writes with a key derived from
 * the app key, and [StoreKey]'s seal and open serve a store of your own.
 */
@ExtendWith(MockServerExtension::class)
class TokensAtRestTest(private val mock: MockServer) {
    private val app = mock.newApp()
    private val client = OAuthClient(app.key, mock.config().copy(maxRetries = 0U))

    @AfterEach
    fun cleanUp() {
        client.close()
        app.key.close()
    }

    @Test
    fun `the token file holds no token, and a store given the app's key reads it`(@TempDir dir: Path) {
        val path = dir.resolve("tokens.json")
        val stored = (fileTokenStore(path.toString()) as TokenStoreImpl).use { store ->
            TokenManager(client, app.clientId, store).use { it.token(app.orgId) }
        }
        val raw = Files.walk(dir).use { files -> files.filter { Files.isRegularFile(it) }.toList() }
            .joinToString("") { String(Files.readAllBytes(it), Charsets.ISO_8859_1) }
        for (token in listOf(stored.token.accessToken.value, stored.token.refreshToken.value)) {
            assertFalse(token.windowed(9).any { raw.contains(it) }, "part of a token is stored in clear text")
        }
        StoreKey.fromAppKey(app.key).use { key ->
            (fileTokenStore(path.toString(), key) as TokenStoreImpl).use { store ->
                assertEquals(stored.token.accessToken, store.load(app.orgId)?.token?.accessToken)
            }
        }
    }

    @Test
    fun `a store key seals a token for one org and never shows itself`() {
        val stored = TokenManager(client, app.clientId).use { it.token(app.orgId) }
        StoreKey.fromBytes(ByteArray(32) { it.toByte() }).use { key ->
            val sealed = key.seal(app.orgId, stored)
            assertEquals(stored.token.refreshToken, key.open(app.orgId, sealed)?.token?.refreshToken)
            assertNull(key.open("another-org", sealed), "sealed for one org only")
            StoreKey.fromBytes(ByteArray(32)).use { other -> assertNull(other.open(app.orgId, sealed), "another key") }
            assertThrows<CoboOAuthException.InvalidArgument> { key.open(app.orgId, "{}".toByteArray()) }
            assertFalse(key.toString().contains("0102"), key.toString())
        }
        assertThrows<CoboOAuthException.InvalidArgument> { StoreKey.fromBytes(ByteArray(31)) }
    }
}
