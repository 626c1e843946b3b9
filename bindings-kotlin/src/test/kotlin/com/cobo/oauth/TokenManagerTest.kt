package com.cobo.oauth

import org.json.JSONObject
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.attribute.PosixFilePermissions
import java.time.Duration
import java.time.Instant
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/**
 * The TokenManager against the mock server, as core/tests/manager.rs tests it in Rust:
 * single flight per org, orgs independent, stores written in Kotlin, fallbacks.
 */
@ExtendWith(MockServerExtension::class)
class TokenManagerTest(private val mock: MockServer) {
    private val app = mock.newApp()
    private val org = app.orgId
    private val client = OAuthClient(app.key, mock.config().copy(maxRetries = 0U))
    // No backoff: these tests ask again at once after a failure (RuntimeTest covers backoff).
    private val noMargin = TokenManagerConfig(refreshMarginSecs = 0UL, backoffInitialMs = 1UL, backoffMaxMs = 1UL)

    @BeforeEach
    fun resetCounters() = mock.reset()

    @AfterEach
    fun cleanUp() {
        mock.setAccessTtl(43199)
        mock.reset()
        client.close()
        app.key.close()
    }

    private fun manager(store: TokenStore? = null) = TokenManager(client, app.clientId, store, noMargin)

    /** A manager whose cached token for [org] has expired; counters reset. */
    private fun withExpiredToken(store: TokenStore? = null): TokenManager {
        mock.setAccessTtl(1)
        val manager = manager(store)
        manager.accessToken(org)
        Thread.sleep(1100)
        mock.setAccessTtl(43199)
        mock.reset()
        return manager
    }

    private fun counts(): Pair<Int, Int> = mock.counters().let { it.getInt("refresh") to it.getInt("get") }

    @Test
    fun `64 threads asking for an expired token share one refresh`() {
        withExpiredToken().use { manager ->
            val barrier = CyclicBarrier(64)
            val pool = Executors.newFixedThreadPool(64)
            val tokens = try {
                (1..64).map { pool.submit<Secret> { barrier.await(); manager.accessToken(org) } }
                    .map { it.get(60, TimeUnit.SECONDS) }
            } finally {
                pool.shutdownNow()
            }
            assertEquals(64, tokens.size)
            assertEquals(1, tokens.toSet().size, "all 64 callers got the same token")
            assertEquals(1 to 0, counts(), "(refresh, get)")
            // Fresh now: served from the cache.
            assertEquals(tokens[0], manager.accessToken(org))
            assertEquals(1, mock.counters().getInt("total"))
        }
    }

    @Test
    fun `a slow org does not hold up another`() {
        val otherOrg = "org-${UUID.randomUUID()}"
        mock.register(app, listOf(org, otherOrg))
        manager().use { manager ->
            mock.queueFault(JSONObject().put("kind", "delay").put("delay_ms", 3000), "get")
            val finished = ConcurrentLinkedQueue<String>()
            val pool = Executors.newSingleThreadExecutor()
            try {
                val slow = pool.submit { manager.accessToken(org); finished.add(org) }
                mock.awaitCounter("get", 1) // the slow org's request is in flight, held 3 s by the mock
                manager.accessToken(otherOrg)
                finished.add(otherOrg)
                slow.get(10, TimeUnit.SECONDS)
            } finally {
                pool.shutdownNow()
            }
            assertEquals(listOf(otherOrg, org), finished.toList())
        }
    }

    /** A TokenStore written in Kotlin: a map that can be told to fail, and counts calls. */
    class MapStore : TokenStore {
        val tokens = ConcurrentHashMap<String, StoredToken>()
        val saves = AtomicInteger()
        val deletes = AtomicInteger()

        @Volatile
        var failure: Throwable? = null

        override fun load(orgId: String): StoredToken? = tokens[orgId]

        override fun save(orgId: String, token: StoredToken) {
            failure?.let { throw it }
            saves.incrementAndGet()
            tokens[orgId] = token
        }

        override fun delete(orgId: String) {
            deletes.incrementAndGet()
            tokens.remove(orgId)
        }
    }

    @Test
    fun `a Kotlin store holds the rotated token before accessToken returns`() {
        val store = MapStore()
        withExpiredToken(store).use { manager ->
            val token = manager.accessToken(org)
            assertEquals(token, store.tokens.getValue(org).token.accessToken)
            assertEquals(2, store.saves.get(), "the first grant and the refresh")
            assertEquals(1 to 0, counts())
        }
    }

    /** The failed save fails the call; the token lives on in memory and is saved and served next time. */
    private fun failingSave(failure: Throwable): CoboOAuthException.Store {
        val store = MapStore()
        return withExpiredToken(store).use { manager ->
            store.failure = failure
            val e = assertThrows<CoboOAuthException.Store> { manager.accessToken(org) }
            store.failure = null
            val token = manager.accessToken(org)
            assertEquals(token, store.tokens.getValue(org).token.accessToken)
            assertEquals(1 to 0, counts(), "no request after the store recovered")
            e
        }
    }

    @Test
    fun `a Store exception from a Kotlin store fails the call and loses nothing`() {
        val e = failingSave(CoboOAuthException.Store("disk full"))
        assertEquals("disk full", e.reason)
    }

    @Test
    fun `any other exception from a Kotlin store arrives as Store`() {
        val e = failingSave(IllegalStateException("disk on fire"))
        // UniFFI passes the stack trace; the core's From<UnexpectedUniFFICallbackError> makes it Store.
        assertTrue(e.reason.startsWith("java.lang.IllegalStateException: disk on fire")) { e.reason }
    }

    @Test
    fun `an Error from a Kotlin store arrives as Store, not as a successful save`() {
        // UniFFI's generated code catches only Exception; generate-bindings.sh widens it.
        val e = failingSave(NotImplementedError("no disk yet"))
        assertTrue(e.reason.startsWith("kotlin.NotImplementedError: no disk yet")) { e.reason }
    }

    @Test
    fun `a Kotlin store that fails to load fails the call`() {
        val store = object : TokenStore by MapStore() {
            override fun load(orgId: String): StoredToken? = throw CoboOAuthException.Store("database down")
        }
        manager(store).use { manager ->
            assertEquals("database down", assertThrows<CoboOAuthException.Store> { manager.accessToken(org) }.reason)
        }
        assertEquals(0 to 0, counts(), "no request without knowing what is stored")
    }

    @Test
    fun `a new manager over the same store continues without a new grant`() {
        val store = MapStore()
        val token = manager(store).use { it.accessToken(org) }
        manager(store).use { second ->
            assertEquals(token, second.accessToken(org))
            assertTrue(second.invalidate(org, token))
            assertNotEquals(token, second.accessToken(org))
        }
        assertEquals(1 to 1, counts(), "(refresh, get): no second org_implicit grant")
    }

    @Test
    fun `a spent refresh token falls back to exactly one new grant`() {
        val store = memoryTokenStore()
        manager(store).use { manager ->
            manager.accessToken(org)
            // Someone else spends the refresh token.
            val stored = store.load(org)!!
            client.refreshOrgToken(app.clientId, stored.token.refreshToken)
            mock.reset()
            manager.invalidate(org, stored.token.accessToken)
            val token = manager.accessToken(org)
            assertEquals(token, store.load(org)!!.token.accessToken)
            assertEquals(1 to 1, counts())
        }
        (store as AutoCloseable).close()
    }

    @Test
    fun `a forgotten org leaves the Kotlin cache and the store`() {
        val store = MapStore()
        manager(store).use { manager ->
            manager.accessToken(org) // now in the Kotlin-side lease cache too
            manager.forget(org)
            assertTrue(store.tokens.isEmpty())
            mock.register(app, emptyList())
            mock.reset()
            // Served from no cache: the core asks Cobo again, which refuses the uninstalled org.
            assertThrows<CoboOAuthException.AuthorizationRequired> { manager.accessToken(org) }
            assertEquals(0 to 1, counts())
        }
    }

    @Test
    fun `an org that withdrew needs authorization again`() {
        val store = MapStore()
        manager(store).use { manager ->
            val token = manager.accessToken(org)
            mock.register(app, emptyList())
            mock.reset()
            manager.invalidate(org, token)
            val e = assertThrows<CoboOAuthException.AuthorizationRequired> { manager.accessToken(org) }
            assertEquals(org, e.orgId)
            assertEquals(403.toUShort(), e.status)
            assertEquals("unauthorized_client", e.error)
            assertEquals(1, store.deletes.get())
            assertTrue(store.tokens.isEmpty())
            assertNull(manager.refreshTokenExpiresAt(org))
            assertEquals(1 to 1, counts(), "the refresh, then one org_implicit grant")
        }
    }

    @Test
    fun `transient failures leave the stored tokens alone`() {
        val store = MapStore()
        withExpiredToken(store).use { manager ->
            val before = store.tokens.getValue(org)
            mock.queueFault(JSONObject().put("kind", "server_error"), "refresh")
            assertThrows<CoboOAuthException.Server> { manager.accessToken(org) }
            assertEquals(before, store.tokens.getValue(org))
            manager.accessToken(org) // the refresh token was not spent
            assertEquals(2 to 0, counts())
        }
    }

    @Test
    fun `the file store persists across managers, records mode 0600`(@TempDir dir: Path) {
        val path = dir.resolve("tokens.json")
        val token = (fileTokenStore(path.toString()) as TokenStoreImpl).use { store -> manager(store).use { it.accessToken(org) } }
        // A directory of records, one per org; beside it its lock and its renewal leases (flock).
        assertEquals(PosixFilePermissions.fromString("rwx------"), Files.getPosixFilePermissions(path))
        val expected = setOf("tokens.json", "tokens.json.lock", "tokens.json.leases")
        assertEquals(expected, Files.list(dir).use { files -> files.map { it.fileName.toString() }.toList() }.toSet())
        val record = Files.list(path).use { files -> files.filter { it.fileName.toString().endsWith(".json") }.toList() }.single()
        assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(record))
        val suffixes = Files.list(path).use { files -> files.map { it.fileName.toString().substringAfter('.') }.toList() }.sorted()
        assertEquals(listOf("json", "lock"), suffixes, "no temp file left behind")
        (fileTokenStore(path.toString()) as TokenStoreImpl).use { store ->
            manager(store).use { restarted ->
                assertEquals(token, restarted.accessToken(org))
                assertNotNull(restarted.refreshTokenExpiresAt(org))
            }
        }
        assertEquals(0 to 1, counts())

        // A record that does not parse is moved aside for a human and the org starts empty:
        // it gets a new grant instead of failing for ever.
        Files.writeString(record, "not json")
        (fileTokenStore(path.toString()) as TokenStoreImpl).use { store ->
            manager(store).use { fresh -> assertNotEquals(token, fresh.accessToken(org)) }
        }
        assertEquals(0 to 2, counts())
        val aside = Files.list(path).use { files -> files.filter { it.fileName.toString().contains(".corrupt-") }.toList() }
        assertEquals(1, aside.size, "the unreadable file is kept aside")
        assertEquals("not json", Files.readString(aside.single()))
        assertThrows<CoboOAuthException.InvalidArgument> { fileTokenStore(" ") }
    }

    @Test
    fun `defaults, header, token and arguments`() {
        val defaults = TokenManagerConfig()
        assertEquals(300UL, defaults.refreshMarginSecs)
        assertEquals(2_592_000UL, defaults.refreshTokenLifetimeSecs)
        assertEquals(1_000UL, defaults.backoffInitialMs)
        assertEquals(60_000UL, defaults.backoffMaxMs)
        assertEquals(10_000UL, defaults.leaseTtlMs)
        TokenManager(client, app.clientId).use { manager ->
            assertNull(manager.refreshTokenExpiresAt(org))
            val before = Instant.now()
            val header = manager.authorizationHeader(org)
            val token = manager.token(org)
            assertEquals("Bearer ${token.token.accessToken.value}", header.value)
            assertEquals(token.token.accessToken, manager.accessToken(org))
            val lifetime = Duration.between(before, manager.refreshTokenExpiresAt(org)!!)
            assertTrue(lifetime >= Duration.ofDays(30).minusSeconds(1) && lifetime < Duration.ofDays(30).plusSeconds(5)) { "$lifetime" }
            assertEquals(token.refreshExpiresAt, manager.refreshTokenExpiresAt(org))
            assertThrows<CoboOAuthException.InvalidArgument> { manager.accessToken(" ") }
        }
        assertEquals(0 to 1, counts())
        assertThrows<CoboOAuthException.InvalidArgument> { TokenManager(client, "") }
        // A margin longer than the token's life renews on every call.
        TokenManager(client, app.clientId, null, TokenManagerConfig(refreshMarginSecs = 50_000UL)).use { eager ->
            val first = eager.accessToken(org)
            assertNotEquals(first, eager.accessToken(org))
        }
    }

    @Test
    fun `managers and stores are AutoCloseable`() {
        val store = memoryTokenStore()
        val manager = TokenManager(client, app.clientId, store, noMargin)
        // The manager holds its own references: closing what was passed to it is safe.
        (store as AutoCloseable).close()
        val token = manager.use { it.accessToken(org) }
        assertTrue(manager.uniffiIsDestroyed)
        assertThrows<IllegalStateException> { manager.accessToken(org) }
        assertThrows<IllegalStateException> { store.load(org) }
        // A Kotlin store is a plain object; the core lets go of it with the last manager using it.
        val kotlinStore = MapStore()
        manager(kotlinStore).close()
        assertTrue(token.value.isNotEmpty())
    }
}
