package com.cobo.oauth

import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.assertTimeoutPreemptively
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.net.ServerSocket
import java.nio.file.Path
import java.time.Duration
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.math.ceil

/**
 * Many processes renewing one org's token on a shared store (README "Many processes"),
 * against a mock with strict rotation (a spent refresh token presented again revokes
 * its family) and 2 s access tokens renewed in their last second: each store must keep
 * renewals to one per expiry window, plus one, with no spent refresh token presented.
 * The second process is a child JVM (CoordinationWorker) on the same class path.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CoordinationTest {
    private val mock = MockServer.start("--strict-rotation", "--access-ttl", "$ACCESS_TTL_SECS")

    @BeforeEach
    fun resetCounters() = mock.reset()

    @AfterAll
    fun stopMock() = mock.close()

    @Test
    fun `a child JVM and this one on one token file renew once per expiry window`(@TempDir dir: Path) {
        val app = mock.newApp()
        val spec = "file:${dir.resolve("tokens.json")}"
        runProcesses(app, children = 1) { CoordinationWorker.store(spec) to spec }
    }

    @Test
    fun `a child JVM and this one on one Redis prefix renew once per expiry window`() {
        val app = mock.newApp()
        val spec = "redis:kotlin-${UUID.randomUUID()}:"
        runProcesses(app, children = 1) { CoordinationWorker.store(spec) to spec }
    }

    @Test
    fun `two managers on a CoordinatedTokenStore written in Kotlin renew once per expiry window`() {
        val app = mock.newApp()
        val shared = MapCoordinatedStore()
        val started = System.nanoTime()
        val counts = withClient(app) { client ->
            // Two "processes": managers that share nothing but the store.
            val managers = List(2) { TokenManager(client, app.clientId, coordinatedTokenStore(shared), CoordinationWorker.managerConfig()) }
            try {
                val results = ConcurrentHashMap<Int, CoordinationWorker.Counts>()
                managers.mapIndexed { i, manager ->
                    Thread { results[i] = CoordinationWorker.run(manager, app.orgId, THREADS * 2, RUN_MILLIS) }.apply { start() }
                }.forEach { it.join() }
                results.values.toList()
            } finally {
                managers.forEach { it.close() }
            }
        }
        assertRenewedOncePerWindow(counts, started)
        // The core went through the Kotlin store's coordination, not around it.
        assertTrue(shared.calls.getValue("acquireLease").get() >= 2) { "${shared.calls}" }
        assertTrue(shared.calls.getValue("saveIfVersion").get() >= 2) { "${shared.calls}" }
        assertTrue(shared.calls.getValue("releaseLease").get() >= 2) { "${shared.calls}" }
        assertEquals(shared.calls.getValue("saveIfVersion").get().toLong(), shared.version(app.orgId).toLong() + shared.conflicts.get()) {
            "every save bumped the version or was a reported conflict"
        }
    }

    @Test
    fun `an Error thrown by a Kotlin CoordinatedTokenStore is a Store error, without a hang`() {
        val app = mock.newApp()
        val broken = object : CoordinatedTokenStore by MapCoordinatedStore() {
            override fun acquireLease(orgId: String, owner: String, ttlMs: ULong): Boolean =
                throw AssertionError("the lease table is gone")
        }
        withClient(app) { client ->
            TokenManager(client, app.clientId, coordinatedTokenStore(broken), CoordinationWorker.managerConfig()).use { manager ->
                val e = assertTimeoutPreemptively(Duration.ofSeconds(10)) {
                    assertThrows<CoboOAuthException.Store> { manager.accessToken(app.orgId) }
                }
                assertTrue(e.reason.startsWith("java.lang.AssertionError: the lease table is gone")) { e.reason }
            }
        }
        assertEquals(0, mock.counters().getInt("issued"), "no token is issued without the lease")
    }

    @Test
    fun `a Redis store where nothing listens is a Store error in bounded time`() {
        val port = ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()).use { it.localPort }
        val app = mock.newApp()
        withClient(app) { client ->
            val store = redisTokenStore(Secret("redis://127.0.0.1:$port/"), "down:", 500UL)
            TokenManager(client, app.clientId, store, CoordinationWorker.managerConfig()).use { manager ->
                val e = assertTimeoutPreemptively(Duration.ofSeconds(10)) {
                    assertThrows<CoboOAuthException.Store> { manager.accessToken(app.orgId) }
                }
                assertTrue(e.reason.contains("redis", ignoreCase = true)) { e.reason }
            }
        }
        assertEquals(0, mock.counters().getInt("issued"), "nothing is issued that could not be stored")
    }

    /**
     * Runs [children] child JVMs and this JVM's own worker, each a TokenManager on the
     * store [open] makes (and its spec, for the children), [THREADS] threads each.
     */
    private fun runProcesses(app: TestApp, children: Int, open: () -> Pair<TokenStore, String>) {
        val (store, spec) = open()
        val started = System.nanoTime()
        val args = listOf(mock.baseUrl, mock.responsePublicKey, app.clientId, app.orgId, spec, "$THREADS", "$RUN_MILLIS")
        val environment = mapOf("COBO_TEST_PRIVATE_KEY" to app.key.privateKeyHex().value)
        val processes = List(children) {
            ChildJvm.start(ChildJvm.testClassPath, CoordinationWorker::class.java.name, args, environment)
        }
        val ours = withClient(app) { client ->
            TokenManager(client, app.clientId, store, CoordinationWorker.managerConfig()).use { manager ->
                CoordinationWorker.run(manager, app.orgId, THREADS, RUN_MILLIS)
            }
        }
        val theirs = processes.map { process ->
            val output = process.inputStream.bufferedReader().readText()
            assertTrue(process.waitFor(30, TimeUnit.SECONDS)) { "a child JVM did not finish" }
            assertEquals(0, process.exitValue()) { "a child JVM failed: $output" }
            CoordinationWorker.Counts.fromJson(output.trim().lines().last())
        }
        assertRenewedOncePerWindow(theirs + ours, started)
    }

    /** The figures of COORDINATION.md, from the strict mock's counters. */
    private fun assertRenewedOncePerWindow(counts: List<CoordinationWorker.Counts>, startedNanos: Long) {
        val elapsed = (System.nanoTime() - startedNanos) / 1e9
        val windows = elapsed / (ACCESS_TTL_SECS - MARGIN_SECS)
        val counters = mock.counters()
        val issued = counters.getInt("issued")
        println("${counts.size} processes, ${counts.sumOf { it.calls }} calls, $issued renewals in %.1f windows: $counters".format(windows))
        assertEquals(emptyList<String>(), counts.flatMap { it.errors }.distinct(), "errors in a worker")
        assertTrue(counts.all { it.calls > 100 }) { "each process kept asking: ${counts.map { it.calls }}" }
        assertTrue(issued <= ceil(windows) + 1) { "$issued renewals in %.1f windows: $counters".format(windows) }
        assertTrue(issued >= 2) { "tokens were not renewed: $counters" }
        assertEquals(0 to 0, counters.getInt("spent_refusals") to counters.getInt("reuse_detections")) { "$counters" }
    }

    private fun <T> withClient(app: TestApp, body: (OAuthClient) -> T): T =
        OAuthClient(app.key, mock.config().copy(maxRetries = 0U)).use(body)

    /**
     * A CoordinatedTokenStore in memory, as a database table would hold it: a versioned
     * record and an expiring lease per org. It counts the core's calls by method.
     */
    class MapCoordinatedStore : CoordinatedTokenStore {
        private class Lease(val owner: String, val untilNanos: Long)

        private val records = HashMap<String, VersionedToken>()
        private val leases = HashMap<String, Lease>()
        val calls = ConcurrentHashMap<String, AtomicInteger>()
        val conflicts = AtomicInteger()

        private fun count(method: String) = calls.computeIfAbsent(method) { AtomicInteger() }.incrementAndGet()

        @Synchronized
        fun version(orgId: String): ULong = records[orgId]?.version ?: 0UL

        @Synchronized
        override fun loadVersioned(orgId: String): VersionedToken {
            count("loadVersioned")
            return records[orgId] ?: VersionedToken(null, 0UL)
        }

        @Synchronized
        override fun saveIfVersion(orgId: String, token: StoredToken, expectedVersion: ULong): Boolean {
            count("saveIfVersion")
            val version = version(orgId)
            if (version != expectedVersion) {
                conflicts.incrementAndGet()
                return false
            }
            records[orgId] = VersionedToken(token, version + 1UL)
            return true
        }

        @Synchronized
        override fun delete(orgId: String) {
            count("delete")
            records[orgId] = VersionedToken(null, version(orgId) + 1UL)
        }

        @Synchronized
        override fun acquireLease(orgId: String, owner: String, ttlMs: ULong): Boolean {
            count("acquireLease")
            val now = System.nanoTime()
            val lease = leases[orgId]
            if (lease != null && lease.owner != owner && lease.untilNanos > now) return false
            leases[orgId] = Lease(owner, now + ttlMs.toLong() * 1_000_000)
            return true
        }

        @Synchronized
        override fun extendLease(orgId: String, owner: String, ttlMs: ULong): Boolean {
            count("extendLease")
            val now = System.nanoTime()
            val lease = leases[orgId]?.takeIf { it.owner == owner && it.untilNanos > now } ?: return false
            leases[orgId] = Lease(lease.owner, now + ttlMs.toLong() * 1_000_000)
            return true
        }

        @Synchronized
        override fun releaseLease(orgId: String, owner: String) {
            count("releaseLease")
            if (leases[orgId]?.owner == owner) leases.remove(orgId)
        }
    }

    private companion object {
        const val ACCESS_TTL_SECS = 2
        const val MARGIN_SECS = 1
        const val THREADS = 4
        const val RUN_MILLIS = 6000L
    }
}
