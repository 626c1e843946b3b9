package com.cobo.oauth

import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import org.json.JSONObject
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.nio.charset.CharacterCodingException
import java.util.concurrent.TimeUnit

/**
 * AsyncOAuthClient's suspend calls (one JNA call each, DirectAsync, run whole on the core's
 * I/O thread) against the mock: the caller's dispatcher keeps running during a request, calls start
 * no thread and are resumed from one kept thread, a cancelled caller resumes at once
 * while its request completes, and closing either object behaves as the generated calls
 * did. FaultMatrixTest runs the fault matrix through it.
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

    /**
     * 150 calls at once, each held 300 ms by the mock: the process starts no thread for
     * them. The native thread that resumes calls stays one Java thread (kept attached by
     * generate-bindings.sh's edit; JNA's default attaches a new one per callback).
     */
    @Test
    fun `concurrent calls start no thread, and resume from one kept thread`() {
        // Under Dispatchers.Unconfined a coroutine goes on on the thread that resumed it: the
        // I/O thread, or the caller's own when the answer came before the caller suspended.
        fun resumers(wanted: Int): Set<Thread> = runBlocking {
            val caller = Thread.currentThread()
            val seen = mutableListOf<Thread>()
            repeat(100) {
                if (seen.size < wanted) {
                    withContext(Dispatchers.Unconfined) {
                        async.getOrgToken(app.clientId, app.orgId)
                        Thread.currentThread().takeIf { it !== caller }?.let { seen += it }
                    }
                }
            }
            assertEquals(wanted, seen.size) { "resumed off the caller's thread ${seen.size} times in 100 calls" }
            seen.toSet()
        }
        val resumer = resumers(3).single()
        assertTrue(resumer.name.startsWith("cobo-oauth")) { resumer.name } // "cobo-oauth @coroutine#N" under the debug agent
        mock.reset()

        val calls = 150
        mock.queueFault(JSONObject().put("kind", "delay").put("delay_ms", 300), "get", calls)
        val threadsBefore = AsyncTokenManagerTest.threadCount()
        var mostThreads = threadsBefore
        val tokens = runBlocking {
            val watcher = launch {
                while (true) {
                    mostThreads = maxOf(mostThreads, AsyncTokenManagerTest.threadCount())
                    delay(5)
                }
            }
            val tokens = (1..calls).map { async { async.getOrgToken(app.clientId, app.orgId) } }.awaitAll()
            watcher.cancelAndJoin()
            tokens
        }
        assertEquals(calls, tokens.map { it.accessToken }.toSet().size)
        assertEquals(calls, mock.counters().getInt("get"))
        // A few of the JVM's own (JIT compiler, GC workers) may start on demand meanwhile.
        assertTrue(mostThreads - threadsBefore <= 8) { "threads grew from $threadsBefore to $mostThreads during $calls calls" }
        assertSame(resumer, resumers(1).single())
    }

    /** Calls make one JNA call and hear one callback (DirectAsync); what it declines awaits UniFFI's future. */
    @Test
    fun `calls take the direct path, whose tokens and typed errors are the generated ones`() {
        assertTrue(DirectAsync.available) { "libcobo_oauth lacks cobo_oauth_direct_call_v1: every call would await UniFFI's future" }
        val handle = AsyncOAuthClient::class.java.getDeclaredField("handle").apply { isAccessible = true }.getLong(async)
        fun direct(operation: Int, first: String, second: String, on: Long = handle): OrgToken? =
            runBlocking { DirectAsync.call(operation, first, second) { start -> start(on) } }

        val token = direct(DirectAsync.GET_ORG_TOKEN, app.clientId, app.orgId)!!
        val refreshed = direct(DirectAsync.REFRESH_ORG_TOKEN, app.clientId, token.refreshToken.value)!!
        assertEquals(listOf("Bearer", "Bearer"), listOf(token.tokenType, refreshed.tokenType))
        assertTrue(token.accessToken != refreshed.accessToken)
        assertEquals(listOf(1, 1), listOf(mock.counters().getInt("get"), mock.counters().getInt("refresh")))

        for ((clientId, orgId) in listOf(app.clientId to "org-that-never-installed", " " to app.orgId)) {
            val blocking = assertThrows<CoboOAuthException> { client.getOrgToken(clientId, orgId) }
            val directly = assertThrows<CoboOAuthException> { direct(DirectAsync.GET_ORG_TOKEN, clientId, orgId) }
            assertEquals(blocking.javaClass, directly.javaClass)
            assertEquals(blocking.message, directly.message)
        }

        // Declined: a lone surrogate (which the generated call refuses, as UniFFI refuses it), a
        // surrogate pair (which the generated future carries to the mock) and a null handle.
        assertEquals(null, direct(DirectAsync.GET_ORG_TOKEN, app.clientId, "org-\uD800"))
        assertEquals(null, direct(DirectAsync.GET_ORG_TOKEN, app.clientId, "org-🔑"))
        assertEquals(null, direct(DirectAsync.GET_ORG_TOKEN, app.clientId, app.orgId, on = 0L))
        assertThrows<CharacterCodingException> { runBlocking { async.getOrgToken(app.clientId, "org-\uD800") } }
        val blocking = assertThrows<CoboOAuthException> { client.getOrgToken(app.clientId, "org-🔑") }
        val generated = assertThrows<CoboOAuthException> { runBlocking { async.getOrgToken(app.clientId, "org-🔑") } }
        assertEquals(blocking.javaClass to blocking.message, generated.javaClass to generated.message)
        assertEquals(1 + 2 + 2, mock.counters().getInt("get"), "the token, the unknown org twice, org-🔑 twice")
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
        Thread.sleep(1800) // the delayed request ends on the I/O thread
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
