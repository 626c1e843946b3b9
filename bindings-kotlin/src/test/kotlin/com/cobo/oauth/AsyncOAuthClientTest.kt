package com.cobo.oauth

import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.util.concurrent.TimeUnit

/**
 * AsyncOAuthClient's suspend calls (run on BlockingCalls' kept threads) against the mock:
 * the caller's dispatcher keeps running during a request, a cancelled caller resumes at
 * once while its request completes, and closing either object behaves as the generated
 * calls did. FaultMatrixTest runs the fault matrix through it.
 */
@ExtendWith(MockServerExtension::class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AsyncOAuthClientTest(private val mock: MockServer) {
    private val app = mock.newApp()
    private val client = OAuthClient(app.key, mock.config().copy(maxRetries = 0U))
    private val async = AsyncOAuthClient(client)

    @AfterEach
    fun cleanUp() {
        mock.reset()
        async.close()
        client.close()
        app.key.close()
    }

    private fun delayNextGet(millis: Int) = mock.queueFault(JSONObject().put("kind", "delay").put("delay_ms", millis), "get")

    @Test
    fun `a single-threaded dispatcher keeps running during a request, and concurrent calls all complete`() {
        delayNextGet(1000)
        var worstLagMs = 0.0
        val tokens = runBlocking {
            val heartbeat = launch {
                var last = System.nanoTime()
                while (true) {
                    delay(10)
                    val now = System.nanoTime()
                    worstLagMs = maxOf(worstLagMs, (now - last) / 1e6 - 10)
                    last = now
                }
            }
            val tokens = (1..20).map { async { async.getOrgToken(app.clientId, app.orgId) } }.awaitAll()
            heartbeat.cancelAndJoin()
            tokens
        }
        assertEquals(20, tokens.map { it.accessToken }.toSet().size)
        assertTrue(worstLagMs <= 50) { "a 10 ms heartbeat lagged $worstLagMs ms" }
    }

    /** 150 calls at once, each held 300 ms by the mock: at most 64 threads run them; the rest wait without one. */
    @Test
    fun `calls beyond the thread bound wait their turn and all complete`() {
        val calls = 150
        mock.queueFault(JSONObject().put("kind", "delay").put("delay_ms", 300), "get", calls)
        val callThreads = { Thread.getAllStackTraces().keys.count { it.name == "cobo-oauth-call" && it.isAlive } }
        var peak = 0
        val tokens = runBlocking {
            val watcher = launch {
                while (true) {
                    peak = maxOf(peak, callThreads())
                    delay(5)
                }
            }
            val tokens = (1..calls).map { async { async.getOrgToken(app.clientId, app.orgId) } }.awaitAll()
            watcher.cancelAndJoin()
            tokens
        }
        assertEquals(calls, tokens.map { it.accessToken }.toSet().size)
        assertEquals(calls, mock.counters().getInt("get"))
        assertTrue(peak in 2..BlockingCalls.MAX_THREADS) { "$peak threads ran $calls calls" }
    }

    @Test
    fun `a cancelled caller resumes at once and its request still completes`() {
        mock.reset()
        delayNextGet(1500)
        runBlocking {
            val call = async(start = CoroutineStart.UNDISPATCHED) { async.getOrgToken(app.clientId, app.orgId) }
            delay(200)
            val started = System.nanoTime()
            call.cancelAndJoin()
            val tookMs = (System.nanoTime() - started) / 1_000_000
            assertTrue(call.isCancelled)
            assertTrue(tookMs < 500) { "cancelling took $tookMs ms" }
        }
        Thread.sleep(1800) // the delayed request ends on its thread
        assertEquals(1, mock.counters().getInt("get"))
        assertEquals("Bearer", runBlocking { async.getOrgToken(app.clientId, app.orgId) }.tokenType)
    }

    @Test
    fun `a closed AsyncOAuthClient refuses calls, and closing its OAuthClient does not stop it`() {
        val other = AsyncOAuthClient(client)
        other.close()
        assertThrows<IllegalStateException> { runBlocking { other.getOrgToken(app.clientId, app.orgId) } }

        val ownClient = OAuthClient(app.key, mock.config())
        val survivor = AsyncOAuthClient(ownClient)
        ownClient.close() // the core still holds its own reference
        survivor.use { assertEquals("Bearer", runBlocking { it.getOrgToken(app.clientId, app.orgId) }.tokenType) }
    }
}
