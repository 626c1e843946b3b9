package com.cobo.oauth

import org.json.JSONObject
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.util.concurrent.ConcurrentLinkedQueue

/**
 * The core's log records reach a Kotlin [LogSink]: the events an operator needs, and
 * never a token or key. The sink is process-wide, so each test removes it again and
 * looks only at its own org's records.
 */
@ExtendWith(MockServerExtension::class)
class LoggingTest(private val mock: MockServer) {
    private val app = mock.newApp()
    private val org = app.orgId
    private val client = OAuthClient(app.key, mock.config().copy(maxRetries = 0U))
    private val noBackoff = TokenManagerConfig(refreshMarginSecs = 0UL, backoffInitialMs = 1UL, backoffMaxMs = 1UL)

    /** Keeps every record it is given. */
    class CapturingSink : LogSink {
        val records = ConcurrentLinkedQueue<LogRecord>()

        override fun log(record: LogRecord) {
            records.add(record)
        }
    }

    @AfterEach
    fun cleanUp() {
        setLogSink(null)
        mock.reset()
        client.close()
        app.key.close()
    }

    @Test
    fun `renewals that succeed and fail are logged, without tokens or keys`() {
        val sink = CapturingSink()
        setLogSink(sink)
        val seen = mutableListOf<StoredToken>()
        TokenManager(client, app.clientId, null, noBackoff).use { manager ->
            seen += manager.token(org) // org_implicit
            manager.invalidate(org, seen.last().token.accessToken)
            seen += manager.token(org) // refresh
            manager.invalidate(org, seen.last().token.accessToken)
            mock.queueFault(JSONObject().put("kind", "unsigned").put("status", 503), "refresh")
            assertThrows<CoboOAuthException.Unavailable> { manager.token(org) }
        }
        val ours = sink.records.filter { "org_id=$org " in it.message || it.message.endsWith("org_id=$org") }

        val succeeded = ours.filter { it.message.startsWith("renewal succeeded") }
        assertEquals(listOf("org_implicit", "refresh"), succeeded.map { Regex("operation=(\\w+)").find(it.message)?.groupValues?.get(1) })
        assertTrue(succeeded.all { it.level == LogLevel.INFO && it.target == "cobo_oauth" && "duration_ms=" in it.message }) { "$succeeded" }

        val failed = ours.single { it.message.startsWith("renewal failed") }
        assertEquals(LogLevel.WARN, failed.level)
        assertTrue("error=unavailable status=503" in failed.message && "backoff_ms=" in failed.message) { failed.message }

        val secrets = seen.flatMap { listOf(it.token.accessToken.value, it.token.refreshToken.value) } + app.key.privateKeyHex().value
        for (record in sink.records) {
            for (secret in secrets) {
                assertFalse(secret in record.message || secret in record.toString()) { "a secret shows in: ${record.message}" }
            }
        }
    }

    @Test
    fun `a sink that throws an Error does not fail the renewal`() {
        // generate-bindings.sh widens the generated catch to Throwable; the core drops the
        // failure (Rust prints it as a caught panic on stderr).
        setLogSink(object : LogSink {
            override fun log(record: LogRecord) = throw AssertionError("appender broke")
        })
        TokenManager(client, app.clientId, null, noBackoff).use { manager ->
            assertTrue(manager.accessToken(org).value.isNotEmpty())
        }
    }

    @Test
    fun `without a sink nothing is delivered`() {
        val sink = CapturingSink()
        setLogSink(sink)
        setLogSink(null)
        TokenManager(client, app.clientId, null, noBackoff).use { it.accessToken(org) }
        assertEquals(emptyList<LogRecord>(), sink.records.toList())
    }
}
