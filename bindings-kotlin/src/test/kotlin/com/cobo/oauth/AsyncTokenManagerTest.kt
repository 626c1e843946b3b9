package com.cobo.oauth

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.joinAll
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.yield
import org.json.JSONObject
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.extension.ExtendWith
import java.lang.management.ManagementFactory
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/**
 * AsyncTokenManager (suspend functions) on one TokenManager, against the mock server:
 * one renewal for any number of coroutines, the event loop never blocked, no thread per
 * waiter, cancelled callers leave the rotated token saved, blocking and async callers
 * share one request. JUnit runs test classes one after another here (no parallel
 * execution is configured), so the thread count below is this test's alone.
 */
@ExtendWith(MockServerExtension::class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AsyncTokenManagerTest(private val mock: MockServer) {
    private val app = mock.newApp()
    private val org = app.orgId
    private val client = OAuthClient(app.key, mock.config().copy(maxRetries = 0U))
    private val store = MapStore()
    // No backoff: a test may ask again at once after a failure.
    private val manager = TokenManager(client, app.clientId, store, TokenManagerConfig(backoffInitialMs = 1UL, backoffMaxMs = 1UL))
    private val tokens = AsyncTokenManager(manager)

    @BeforeEach
    fun resetCounters() = mock.reset()

    @AfterEach
    fun cleanUp() {
        mock.reset()
        tokens.close()
        manager.close()
        client.close()
        app.key.close()
    }

    /** A first token, then expired with invalidate (the next call renews it); counters reset. Returns it. */
    private fun expire(): StoredToken {
        val first = manager.token(org)
        assertTrue(manager.invalidate(org, first.token.accessToken))
        mock.reset()
        return first
    }

    private fun counts(): Pair<Int, Int> = mock.counters().let { it.getInt("refresh") to it.getInt("get") }

    private fun delayNextRefresh(millis: Int) = mock.queueFault(JSONObject().put("kind", "delay").put("delay_ms", millis), "refresh")

    @Test
    fun `1000 coroutines on an expired token share one refresh`() = runBlocking {
        val old = expire()
        val got = (1..1000).map { async { tokens.accessToken(org) } }.awaitAll()
        assertEquals(1, got.toSet().size, "all 1000 callers got the same token")
        assertNotEquals(old.token.accessToken, got.first())
        assertEquals(1 to 0, counts(), "(refresh, get)")
        assertEquals(got.first(), store.tokens.getValue(org).token.accessToken, "the rotated token was saved")
        // Fresh now: every kind of call is served from the cache.
        assertEquals("Bearer ${got.first().value}", tokens.authorizationHeader(org).value)
        assertEquals(got.first(), tokens.token(org).token.accessToken)
        assertEquals(got.first(), manager.accessToken(org))
        assertEquals(1 to 0, counts())
    }

    /** Coroutines that start after the quick 503 get the error the org's backoff (10 s here) recorded: the same one. */
    @Test
    fun `cachedAccessToken answers only a token ready now`() = runBlocking {
        assertEquals(null, tokens.cachedAccessToken(org), "no token yet")
        val first = tokens.accessToken(org)
        assertEquals(first, tokens.cachedAccessToken(org))
        assertEquals(null, tokens.cachedAccessToken("another-org"))
        assertTrue(manager.invalidate(org, first))
        assertEquals(null, tokens.cachedAccessToken(org), "an invalidated token is not served")
        assertEquals(0 to 1, counts(), "only the first token was asked for: (refresh, get)")
    }

    @Test
    fun `1000 coroutines share one failed refresh and its typed error`() = runBlocking {
        val backingOff = TokenManager(client, app.clientId, store, TokenManagerConfig(backoffInitialMs = 10_000UL, backoffMaxMs = 10_000UL))
        val tokens = AsyncTokenManager(backingOff)
        val first = backingOff.token(org)
        assertTrue(backingOff.invalidate(org, first.token.accessToken))
        mock.reset()
        mock.queueFault(JSONObject().put("kind", "unsigned").put("status", 503), "refresh")
        val outcomes = (1..1000).map { async { runCatching { tokens.accessToken(org) } } }.awaitAll()
        val errors = outcomes.map { it.exceptionOrNull() }
        assertTrue(errors.all { it is CoboOAuthException.Unavailable && it.status == 503.toUShort() }) {
            "every caller gets Unavailable(503): ${errors.map { it?.javaClass?.simpleName }.toSet()}"
        }
        assertEquals(1 to 0, counts(), "(refresh, get)")
        tokens.close()
        backingOff.close()
    }

    @Test
    fun `the loop is never blocked and no thread waits per caller`() {
        // Warm up (JIT, JNA, the whole path through a renewal) so that what follows measures the wait.
        repeat(3) {
            expire()
            runBlocking { (1..1000).map { async { tokens.accessToken(org) } }.awaitAll() }
        }
        val old = expire()
        delayNextRefresh(1000)
        val threads = ManagementFactory.getThreadMXBean()
        val startedBefore = threads.totalStartedThreadCount
        var held = false
        var beatsWhileHeld = 0
        // runBlocking's event loop on this one thread: the heartbeat and the 1000 callers share it.
        val got = runBlocking {
            val heartbeat = launch {
                while (true) {
                    delay(10)
                    if (held) beatsWhileHeld++
                }
            }
            val callers = (1..1000).map { async { tokens.accessToken(org) } }
            mock.awaitCounter("refresh", 1, ::delay) // the renewal they wait for is held by the mock
            held = true
            val got = callers.awaitAll()
            held = false
            heartbeat.cancelAndJoin()
            got
        }
        val started = threads.totalStartedThreadCount - startedBefore
        assertEquals(1, got.toSet().size)
        assertNotEquals(old.token.accessToken, got.first(), "the callers waited for the renewal")
        assertEquals(1 to 0, counts())
        assertTrue(beatsWhileHeld >= 3) { "a 10 ms heartbeat beat $beatsWhileHeld times while the renewal was held 1 s" }
        // A thread per waiting caller would start 1000 (the JVM may start a few of its own).
        assertTrue(started < 100) { "$started threads started while 1000 callers waited" }
    }

    @Test
    fun `cancelled callers leave the rotated token saved and the next call makes no request`() = runBlocking {
        val old = expire()
        delayNextRefresh(2000)
        val callers = (1..100).map { launch { tokens.accessToken(org) } }
        mock.awaitCounter("refresh", 1, ::delay) // all of them wait for the renewal the mock holds now
        assertTrue(callers.none { it.isCompleted })
        callers.forEach { it.cancel() }
        callers.joinAll()
        assertTrue(callers.all { it.isCancelled })
        // The renewal runs on to the end: it saves the rotated token.
        val saved = waitFor { store.tokens[org]?.takeIf { it.token.refreshToken != old.token.refreshToken } }
        assertEquals(1 to 0, counts(), "(refresh, get)")
        assertEquals(saved.token.accessToken, tokens.accessToken(org))
        assertEquals(saved.token.accessToken, manager.accessToken(org))
        assertEquals(1 to 0, counts(), "served from the cache: no second request")
    }

    /** The first waiter makes the one call into the core that the others share (TokenWaits): cancelling it cancels only it. */
    @Test
    fun `cancelling the first waiter leaves the others waiting for the same renewal`() = runBlocking {
        val old = expire()
        delayNextRefresh(500)
        val first = launch { tokens.accessToken(org) }
        yield()
        val others = (1..99).map { async { tokens.accessToken(org) } }
        mock.awaitCounter("refresh", 1, ::delay) // the first waiter's renewal is in flight
        first.cancelAndJoin()
        assertTrue(first.isCancelled)
        val got = others.awaitAll()
        assertEquals(1, got.toSet().size)
        assertEquals(store.tokens.getValue(org).token.accessToken, got.first())
        assertNotEquals(old.token.accessToken, got.first())
        assertEquals(1 to 0, counts(), "(refresh, get)")
    }

    @Test
    fun `blocking threads and coroutines share one request`() {
        val old = expire()
        delayNextRefresh(500)
        val threads = 16
        val barrier = CyclicBarrier(threads + 1)
        val pool = Executors.newFixedThreadPool(threads)
        try {
            val blocking = (1..threads).map { pool.submit<Secret> { barrier.await(); manager.accessToken(org) } }
            val fromCoroutines = runBlocking {
                barrier.await()
                (1..500).map { async { tokens.accessToken(org) } }.awaitAll()
            }
            val all = blocking.map { it.get(30, TimeUnit.SECONDS) } + fromCoroutines
            assertEquals(1, all.toSet().size, "threads and coroutines got the same token")
            assertNotEquals(old.token.accessToken, all.first())
        } finally {
            pool.shutdownNow()
        }
        assertEquals(1 to 0, counts(), "(refresh, get)")
    }

    /**
     * A blocking call inside a coroutine works: it blocks that coroutine's thread (here the
     * loop's only one) while the renewal runs, and the coroutines waiting on the same loop
     * get the same token once it returns.
     */
    @Test
    fun `a blocking call inside a coroutine works and does not hang`() = runBlocking {
        val old = expire()
        delayNextRefresh(300)
        val waiter = async { tokens.accessToken(org) }
        yield() // the waiter subscribes to the renewal it starts
        val fromBlocking = manager.accessToken(org) // blocks this thread, the loop's
        assertEquals(fromBlocking, waiter.await())
        assertNotEquals(old.token.accessToken, fromBlocking, "the blocking call waited for the renewal")
        assertEquals(1 to 0, counts(), "(refresh, get)")
        // And a blocking call on a fresh token from inside a coroutine is just a cache read.
        assertEquals(fromBlocking, coroutineScope { manager.accessToken(org) })
    }

    @Test
    fun `authorizationHeader and token wait for the renewal too`() = runBlocking {
        expire()
        val header = async { tokens.authorizationHeader(org) }
        val whole = async { tokens.token(org) }
        assertEquals("Bearer ${whole.await().token.accessToken.value}", header.await().value)
        assertEquals(1 to 0, counts())
    }

    @Test
    fun `errors arrive typed, and an empty org id is refused`() = runBlocking {
        val e = runCatching { tokens.accessToken("") }.exceptionOrNull()
        assertTrue(e is CoboOAuthException.InvalidArgument) { "got $e" }
        assertTrue(e !is CancellationException)
    }

    /** An in-memory TokenStore written in Kotlin: what the manager saved, per org. */
    class MapStore : TokenStore {
        val tokens = ConcurrentHashMap<String, StoredToken>()
        override fun load(orgId: String): StoredToken? = tokens[orgId]
        override fun save(orgId: String, token: StoredToken) {
            tokens[orgId] = token
        }
        override fun delete(orgId: String) {
            tokens.remove(orgId)
        }
    }

    companion object {
        /** Polls [probe] every 10 ms for up to 10 s. */
        private fun <T : Any> waitFor(probe: () -> T?): T {
            val until = System.nanoTime() + 10_000_000_000
            while (System.nanoTime() < until) {
                probe()?.let { return it }
                Thread.sleep(10)
            }
            error("not within 10 s")
        }
    }
}
