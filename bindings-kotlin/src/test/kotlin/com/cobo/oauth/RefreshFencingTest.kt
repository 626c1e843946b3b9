package com.cobo.oauth

import org.json.JSONObject
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.io.BufferedInputStream
import java.io.IOException
import java.net.Socket
import java.net.URI
import java.nio.file.Files
import java.nio.file.Path
import java.util.Collections
import java.util.UUID
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/**
 * "A refresh token is presented once, whatever fails" (FENCING.md), against a strict
 * mock: a spent refresh token presented again is refused (`spent_refusals`) and revokes
 * its family (`reuse_detections`). Every test ends with both counters at 0.
 *
 * - The lease lapses while its holder's refresh is in flight (the lease key or file
 *   deleted under it): the other "process" finds the refresh token marked in flight,
 *   never presents it, and gets a new grant; the holder's late save loses its
 *   compare-and-set and it adopts the other's token. As core's `deleted_lease`
 *   (cli/tests/coordination.rs), on Redis and on the token file.
 * - A Kotlin CoordinatedTokenStore fails a save after Cobo rotated the token: the
 *   renewal saves again under its lease, or, if it never can, leaves the mark (which a
 *   foreign store keeps like any other field) so that the next renewal asks for a new
 *   grant. As core/tests/store_faults.rs.
 *
 * A "process" is a TokenManager with a store instance of its own on the shared Redis
 * prefix, token file or Kotlin map.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RefreshFencingTest {
    private val mock = MockServer.start("--strict-rotation")

    @BeforeEach
    fun resetCounters() = mock.reset()

    @AfterAll
    fun stopMock() = mock.close()

    // ---- the lease lapses mid-refresh -------------------------------------------------

    @Test
    fun `a Redis lease deleted mid-refresh - the other process never presents the marked refresh token`() {
        val app = mock.newApp()
        val prefix = "fencing-${UUID.randomUUID()}:"
        val redis = RawRedis(CoordinationWorker.redisUrl())
        leaseLostMidRefresh(
            app,
            open = { CoordinationWorker.store("redis:$prefix") },
            deleteLease = {
                assertEquals(1L, redis.command("DEL", "${prefix}lease:${app.orgId}"), "A held the lease")
            },
            version = { redis.command("HGET", "${prefix}token:${app.orgId}", "version").toString().toLong() },
        )
    }

    @Test
    fun `a lease file deleted mid-refresh - the other process never presents the marked refresh token`(@TempDir dir: Path) {
        val app = mock.newApp()
        val file = dir.resolve("tokens.json")
        val leases = dir.resolve("tokens.json.leases")
        leaseLostMidRefresh(
            app,
            open = { CoordinationWorker.store("file:$file") },
            deleteLease = {
                val held = Files.list(leases).use { it.iterator().asSequence().toList() }
                assertEquals(1, held.size, "A's lease file: $held")
                Files.delete(held.single())
            },
            version = {
                // The store is a directory with one record file per org; this test has one org.
                val record = Files.list(file).use { files -> files.filter { it.toString().endsWith(".json") }.toList() }.single()
                JSONObject(Files.readString(record)).getLong("version")
            },
        )
    }

    /**
     * A and B share a token; both see it refused. A's refresh hangs in the mock (1.5 s);
     * meanwhile A's lease is deleted and B renews.
     */
    private fun leaseLostMidRefresh(app: TestApp, open: () -> TokenStore, deleteLease: () -> Unit, version: () -> Long) {
        val config = TokenManagerConfig(refreshMarginSecs = 0UL, leaseTtlMs = 600UL, backoffInitialMs = 10UL, backoffMaxMs = 10UL)
        val pool = Executors.newSingleThreadExecutor()
        withClient(app) { client ->
            TokenManager(client, app.clientId, open(), config).use { a ->
                val storeOfB = open()
                TokenManager(client, app.clientId, storeOfB, config).use { b ->
                    val first = a.accessToken(app.orgId)
                    assertEquals(first, b.accessToken(app.orgId), "B read A's grant from the store")
                    val before = version()
                    assertTrue(a.invalidate(app.orgId, first) && b.invalidate(app.orgId, first))
                    mock.reset()
                    mock.queueFault(JSONObject().put("kind", "delay").put("delay_ms", 1500), "refresh")
                    try {
                        val slow = pool.submit<Secret> { a.accessToken(app.orgId) }
                        waitFor("A's refresh to reach the mock") { mock.counters().getInt("refresh") == 1 }
                        assertEquals(before + 1, version(), "A marked its refresh token in flight before sending it")
                        deleteLease()
                        val theirs = b.accessToken(app.orgId)
                        assertEquals(before + 2, version(), "B saved its new grant once")
                        val ours = slow.get(30, TimeUnit.SECONDS)
                        assertEquals(theirs, ours, "A adopted B's token instead of saving its own")
                        assertEquals(theirs, a.accessToken(app.orgId))
                        assertEquals(theirs, b.accessToken(app.orgId))
                    } finally {
                        pool.shutdownNow()
                    }
                    assertEquals(before + 2, version(), "A's late save was refused; the version never went back")
                    val stored = storeOfB.load(app.orgId)!! // B's store: it seals with the app's key
                    assertFalse(stored.refreshInFlight, "B's new grant cleared the mark")
                }
            }
        }
        val counters = printCounters()
        assertEquals(listOf(1, 1, 2), listOf("refresh", "get", "issued").map { counters.getInt(it) }) {
            "A's refresh (spending the marked token), B's new grant instead of a second presentation: $counters"
        }
        assertNoReuse(counters)
    }

    // ---- a Kotlin store whose save fails after the rotation ---------------------------

    @Test
    fun `a Kotlin store that fails the save after rotation - the renewal saves again and no spent token is presented`() {
        val app = mock.newApp()
        val shared = CoordinationTest.MapCoordinatedStore()
        // Save 1: the first grant; 2: the refresh token marked in flight; 3: after the refresh, fails.
        val flaky = FlakyStore(shared) { it == 3 }
        withClient(app) { client ->
            TokenManager(client, app.clientId, coordinatedTokenStore(flaky), RENEW_NOW).use { a ->
                TokenManager(client, app.clientId, coordinatedTokenStore(shared), RENEW_NOW).use { b ->
                    renew(a, app.orgId)
                    assertEquals(listOf(false, true, false, false), flaky.marks.toList()) {
                        "grant, mark, failed save of the rotated token, its retry: ${flaky.marks}"
                    }
                    assertEquals(1, flaky.failed.get())
                    val record = shared.loadVersioned(app.orgId)
                    assertEquals(a.accessToken(app.orgId), record.token!!.token.accessToken, "the retry saved A's rotated token")
                    assertFalse(record.token!!.refreshInFlight, "the saved rotation cleared the mark")
                    // B, another process, renews from the store: with A's rotated refresh token.
                    val theirs = renew(b, app.orgId)
                    // A, refused its token, adopts B's from the store.
                    assertEquals(theirs, renew(a, app.orgId))
                }
            }
        }
        val counters = printCounters()
        assertEquals(1 to 2, counters.getInt("get") to counters.getInt("refresh")) { "one grant, then refreshes only: $counters" }
        assertNoReuse(counters)
    }

    @Test
    fun `a Kotlin store that never saves the rotation keeps the mark - the next renewal asks for a new grant`() {
        val app = mock.newApp()
        val shared = CoordinationTest.MapCoordinatedStore()
        // Its save 1 marks the refresh token; every save after it (the rotated token, its retries) fails.
        val dyingStore = FlakyStore(shared) { it >= 2 }
        withClient(app) { client ->
            TokenManager(client, app.clientId, coordinatedTokenStore(shared), RENEW_NOW).use { a ->
                val token = a.accessToken(app.orgId)
                // A short deadline: the retries of the failed save end after 2 s.
                OAuthClient(app.key, mock.config().copy(maxRetries = 0U, totalTimeoutMs = 2000UL)).use { shortClient ->
                    TokenManager(shortClient, app.clientId, coordinatedTokenStore(dyingStore), RENEW_NOW).use { dying ->
                        assertEquals(token, dying.accessToken(app.orgId))
                        assertTrue(dying.invalidate(app.orgId, token))
                        assertThrows<CoboOAuthException.Store> { dying.accessToken(app.orgId) }
                    }
                }
                assertEquals(1, mock.counters().getInt("refresh"), "Cobo spent the refresh token")
                assertTrue(dyingStore.marks.first(), "the renewal marked the refresh token before sending it")
                assertTrue(dyingStore.failed.get() >= 1)
                val record = shared.loadVersioned(app.orgId).token!!
                assertEquals(token, record.token.accessToken, "the store still holds the spent refresh token ...")
                assertTrue(record.refreshInFlight, "... marked in flight, as the Kotlin store kept it")

                // A (another process) sees its token refused and renews from that record.
                val renewed = renew(a, app.orgId)
                val after = shared.loadVersioned(app.orgId).token!!
                assertEquals(renewed, after.token.accessToken)
                assertFalse(after.refreshInFlight, "the new grant cleared the mark")
            }
        }
        val counters = printCounters()
        assertEquals(1 to 2, counters.getInt("refresh") to counters.getInt("get")) {
            "the spent refresh token was not presented again; a new grant instead: $counters"
        }
        assertNoReuse(counters)
    }

    // ---- helpers ------------------------------------------------------------------------

    /**
     * A Kotlin CoordinatedTokenStore over [inner] whose saves numbered (from 1) where
     * [fails] holds throw, writing nothing. Records each save's `refreshInFlight`.
     */
    private class FlakyStore(private val inner: CoordinatedTokenStore, private val fails: (Int) -> Boolean) :
        CoordinatedTokenStore by inner {
        private val saves = AtomicInteger()
        val failed = AtomicInteger()
        val marks: MutableList<Boolean> = Collections.synchronizedList(mutableListOf())

        override fun saveIfVersion(orgId: String, token: StoredToken, expectedVersion: ULong): Boolean {
            marks += token.refreshInFlight
            if (fails(saves.incrementAndGet())) {
                failed.incrementAndGet()
                throw CoboOAuthException.Store("connection reset")
            }
            return inner.saveIfVersion(orgId, token, expectedVersion)
        }
    }

    /** Renews [manager]'s token now, as a refused token makes a hook do; returns the new one. */
    private fun renew(manager: TokenManager, orgId: String): Secret {
        val token = manager.accessToken(orgId)
        assertTrue(manager.invalidate(orgId, token))
        val renewed = manager.accessToken(orgId)
        assertNotEquals(token, renewed)
        return renewed
    }

    private fun printCounters(): JSONObject = mock.counters().also { println("mock counters: $it") }

    private fun assertNoReuse(counters: JSONObject) {
        assertEquals(0 to 0, counters.getInt("spent_refusals") to counters.getInt("reuse_detections")) {
            "a spent refresh token was presented: $counters"
        }
    }

    private fun <T> withClient(app: TestApp, body: (OAuthClient) -> T): T =
        OAuthClient(app.key, mock.config().copy(maxRetries = 0U)).use(body)

    /** Polls [done] every 10 ms; fails after 10 s (a guard against a hang, not a bound under test). */
    private fun waitFor(what: String, done: () -> Boolean) {
        val until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
        while (!done()) {
            check(System.nanoTime() < until) { "timed out waiting for $what" }
            Thread.sleep(10)
        }
    }

    /**
     * Raw commands to the test's redis-server (`redis://host:port/`, no auth), in RESP
     * over a socket: the tests have no Redis client, and redis-cli may be missing.
     */
    private class RawRedis(url: String) {
        private val uri = URI.create(url)

        /** Sends one command; returns an integer reply as Long, a bulk or simple string as String, nil as null. */
        fun command(vararg args: String): Any? = Socket(uri.host, uri.port).use { socket ->
            socket.soTimeout = 5000
            val request = StringBuilder("*${args.size}\r\n")
            for (arg in args) {
                request.append("$").append(arg.toByteArray().size).append("\r\n").append(arg).append("\r\n")
            }
            socket.getOutputStream().apply { write(request.toString().toByteArray()); flush() }
            val input = BufferedInputStream(socket.getInputStream())
            val line = readLine(input)
            when (line[0]) {
                ':' -> line.substring(1).toLong()
                '+' -> line.substring(1)
                '-' -> throw IOException("redis: ${line.substring(1)}")
                '$' -> line.substring(1).toInt().let { length ->
                    if (length < 0) null else String(input.readNBytes(length + 2), 0, length)
                }
                else -> throw IOException("redis: unexpected reply $line")
            }
        }

        private fun readLine(input: BufferedInputStream): String {
            val line = StringBuilder()
            while (true) {
                val c = input.read()
                if (c < 0) throw IOException("redis closed the connection")
                if (c == '\n'.code) return line.toString().removeSuffix("\r")
                line.append(c.toChar())
            }
        }
    }

    private companion object {
        /** No margin, no backoff to speak of: tokens are renewed when the test invalidates them. */
        val RENEW_NOW = TokenManagerConfig(refreshMarginSecs = 0UL, backoffInitialMs = 1UL, backoffMaxMs = 1UL)
    }
}
