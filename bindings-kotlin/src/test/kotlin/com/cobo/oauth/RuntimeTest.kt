package com.cobo.oauth

import org.json.JSONObject
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/**
 * The TokenManager in hostile runtimes, as core/tests/runtime.rs tests it in Rust:
 * invalidation by token, serving a valid token through failures, per-org backoff, and a
 * Kotlin store failing with an Error while callers wait.
 */
@ExtendWith(MockServerExtension::class)
class RuntimeTest(private val mock: MockServer) {
    private val app = mock.newApp()
    private val org = app.orgId
    private val client = OAuthClient(app.key, mock.config().copy(maxRetries = 0U))
    private val unavailable = JSONObject().put("kind", "unsigned").put("status", 503)

    @BeforeEach
    fun resetCounters() = mock.reset()

    @AfterEach
    fun cleanUp() {
        mock.setAccessTtl(43199)
        mock.reset()
        client.close()
        app.key.close()
    }

    private fun config(margin: ULong = 0UL, backoffMs: ULong = 1UL) =
        TokenManagerConfig(refreshMarginSecs = margin, backoffInitialMs = backoffMs, backoffMaxMs = backoffMs)

    private fun manager(config: TokenManagerConfig, store: TokenStore? = null) = TokenManager(client, app.clientId, store, config)

    private fun counts(): Pair<Int, Int> = mock.counters().let { it.getInt("refresh") to it.getInt("get") }

    /** [threads] callers released together; their results in order. */
    private fun <T> together(threads: Int, call: () -> T): List<Result<T>> {
        val barrier = CyclicBarrier(threads)
        val pool = Executors.newFixedThreadPool(threads)
        try {
            return (1..threads).map { pool.submit<Result<T>> { barrier.await(); runCatching(call) } }
                .map { it.get(60, TimeUnit.SECONDS) }
        } finally {
            pool.shutdownNow()
        }
    }

    @Test
    fun `invalidate expires only the token the caller used`() {
        manager(config()).use { manager ->
            val first = manager.accessToken(org)
            assertTrue(manager.invalidate(org, first))
            val second = manager.accessToken(org)
            assertNotEquals(first, second)
            mock.reset()

            // The old token, reported after the renewal: ignored, no request.
            assertFalse(manager.invalidate(org, first), "a stale report")
            assertEquals(second, manager.accessToken(org))
            assertEquals(0 to 0, counts())

            // 16 callers saw `second` refused: one renewal between them.
            val tokens = together(16) { manager.invalidate(org, second); manager.accessToken(org) }.map { it.getOrThrow() }
            assertEquals(1, tokens.toSet().size, "everyone ends with the one new token")
            assertNotEquals(second, tokens[0])
            assertEquals(1 to 0, counts(), "one refresh, not sixteen")

            assertThrows<CoboOAuthException.InvalidArgument> { manager.invalidate(" ", second) }
        }
    }

    @Test
    fun `a failed renewal inside the margin still serves the valid token`() {
        mock.setAccessTtl(600) // every token is inside a 3600 s margin from the start
        manager(config(margin = 3600UL, backoffMs = 60_000UL)).use { manager ->
            val valid = manager.accessToken(org)
            mock.reset()
            mock.queueFault(unavailable, "refresh")
            assertEquals(valid, manager.accessToken(org), "the renewing caller gets the valid token, not Unavailable")
            repeat(20) { assertEquals(valid, manager.accessToken(org)) }
            assertEquals(1 to 0, counts(), "one refresh, then the backoff serves the valid token")
        }
    }

    @Test
    fun `an expired token gets the recorded error without a request until the backoff ends`() {
        mock.setAccessTtl(1)
        manager(config(backoffMs = 1_000UL)).use { manager ->
            manager.accessToken(org)
            mock.setAccessTtl(43199)
            Thread.sleep(1100)
            mock.reset()
            mock.queueFault(unavailable, "refresh")
            repeat(50) {
                val e = assertThrows<CoboOAuthException.Unavailable> { manager.accessToken(org) }
                assertEquals(503.toUShort(), e.status)
            }
            assertEquals(1 to 0, counts(), "one refresh; 49 callers in the backoff window made no request")
            Thread.sleep(1_050) // the backoff (500 to 1000 ms, jittered) is over
            manager.accessToken(org)
            assertEquals(2 to 0, counts())
        }
    }

    @Test
    fun `out-of-range configurations are refused`() {
        for (bad in listOf(config(backoffMs = 0UL), config(backoffMs = 7_200_000UL), TokenManagerConfig(refreshTokenLifetimeSecs = ULong.MAX_VALUE))) {
            assertThrows<CoboOAuthException.InvalidArgument> { TokenManager(client, app.clientId, null, bad) }
        }
        assertThrows<CoboOAuthException.InvalidArgument> { OAuthClient(app.key, mock.config().copy(totalTimeoutMs = 0UL)) }
    }

    /** A Kotlin store whose save, while [failing], waits a little and throws an Error. */
    class ErrorStore : TokenStore {
        val tokens = ConcurrentHashMap<String, StoredToken>()

        @Volatile
        var failing = true

        override fun load(orgId: String): StoredToken? = tokens[orgId]

        override fun save(orgId: String, token: StoredToken) {
            if (failing) {
                // Lets the other callers join this renewal as waiters. Nothing depends on it:
                // a caller that comes later retries the save of the token held, and fails too.
                Thread.sleep(300)
                throw AssertionError("the store's invariant broke")
            }
            tokens[orgId] = token
        }

        override fun delete(orgId: String) {
            tokens.remove(orgId)
        }
    }

    @Test
    fun `an Error from a Kotlin store reaches every waiter as Store and the org recovers`() {
        val store = ErrorStore()
        manager(config(), store).use { manager ->
            for (result in together(8) { manager.accessToken(org) }) {
                val e = result.exceptionOrNull()
                assertTrue(e is CoboOAuthException.Store) { "expected Store, got $e" }
                assertTrue((e as CoboOAuthException.Store).reason.startsWith("java.lang.AssertionError")) { e.reason }
            }
            store.failing = false
            val token = manager.accessToken(org)
            assertEquals(token, store.tokens.getValue(org).token.accessToken, "the token kept in memory is saved")
            assertEquals(0 to 1, counts(), "one grant, kept through the failures")
        }
    }
}
