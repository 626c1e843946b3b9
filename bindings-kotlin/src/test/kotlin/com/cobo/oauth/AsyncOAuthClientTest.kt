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
 * AsyncOAuthClient's suspend calls (UniFFI's generated futures, run whole on the core's
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

    /** A heartbeat on runBlocking's one thread keeps beating while the mock holds a request (1 s). */
    @Test
    fun `a single-threaded dispatcher keeps running during a request, and concurrent calls all complete`() {
        delayNextGet(1000)
        var held = false
        var beatsWhileHeld = 0
        val tokens = runBlocking {
            val heartbeat = launch {
                while (true) {
                    delay(10)
                    if (held) beatsWhileHeld++
                }
            }
            val slow = async { async.getOrgToken(app.clientId, app.orgId) } // the first GET: the held one
            mock.awaitCounter("get", 1, ::delay)
            held = true
            val others = (1..19).map { async { async.getOrgToken(app.clientId, app.orgId) } }.awaitAll()
            val first = slow.await()
            held = false
            heartbeat.cancelAndJoin()
            others + first
        }
        assertEquals(20, tokens.map { it.accessToken }.toSet().size)
        assertTrue(beatsWhileHeld >= 3) { "a 10 ms heartbeat beat $beatsWhileHeld times while a request was held 1 s" }
    }

    /**
     * 150 calls at once, each held 300 ms by the mock: no thread per call. Each resumes on
     * the native thread that resumes calls, which stays one Java thread (kept attached by
     * AsyncCallbackThreads; JNA's default attaches a new one per callback), or on the
     * caller's own when the answer came before it suspended.
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
        val resumedOn = java.util.concurrent.ConcurrentHashMap.newKeySet<Thread>()
        val caller = Thread.currentThread()
        val tokens = runBlocking {
            (1..calls).map {
                async(Dispatchers.Unconfined) { async.getOrgToken(app.clientId, app.orgId).also { resumedOn += Thread.currentThread() } }
            }.awaitAll()
        }
        assertEquals(calls, tokens.map { it.accessToken }.toSet().size)
        assertEquals(calls, mock.counters().getInt("get"))
        assertEquals(setOf(resumer), resumedOn - caller) { "resumed on ${resumedOn.map { it.name }}" }
        assertSame(resumer, resumers(1).single())
    }

    /** The suspend calls' tokens and typed errors are the blocking calls'. */
    @Test
    fun `tokens and typed errors are the blocking calls'`() {
        val token = runBlocking { async.getOrgToken(app.clientId, app.orgId) }
        val refreshed = runBlocking { async.refreshOrgToken(app.clientId, token.refreshToken) }
        assertEquals(listOf("Bearer", "Bearer"), listOf(token.tokenType, refreshed.tokenType))
        assertTrue(token.accessToken != refreshed.accessToken)
        assertEquals(listOf(1, 1), listOf(mock.counters().getInt("get"), mock.counters().getInt("refresh")))

        for ((clientId, orgId) in listOf(app.clientId to "org-that-never-installed", " " to app.orgId, app.clientId to "org-🔑")) {
            val blocking = assertThrows<CoboOAuthException> { client.getOrgToken(clientId, orgId) }
            val suspending = assertThrows<CoboOAuthException> { runBlocking { async.getOrgToken(clientId, orgId) } }
            assertEquals(blocking.javaClass to blocking.message, suspending.javaClass to suspending.message)
        }
        // A lone surrogate fails as UniFFI fails it, before any request.
        assertThrows<CharacterCodingException> { runBlocking { async.getOrgToken(app.clientId, "org-\uD800") } }
        assertEquals(1 + 2 + 2, mock.counters().getInt("get"), "the token, the unknown org twice, org-🔑 twice")
    }

    /** Cancelled while the mock holds its request (2 s): the caller resumes before the request ends, which then still completes. */
    @Test
    fun `a cancelled caller resumes at once and its request still completes`() {
        mock.reset()
        delayNextGet(2000)
        runBlocking {
            val call = async(start = CoroutineStart.UNDISPATCHED) { async.getOrgToken(app.clientId, app.orgId) }
            mock.awaitCounter("get", 1, ::delay)
            call.cancelAndJoin()
            assertTrue(call.isCancelled)
            assertEquals(0, mock.counters().getInt("issued"), "the caller resumed while its request was still held")
        }
        mock.awaitCounter("issued", 1) // the held request ends on the I/O thread
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
