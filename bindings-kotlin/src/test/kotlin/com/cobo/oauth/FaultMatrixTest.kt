package com.cobo.oauth

import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Named
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import org.junit.jupiter.api.fail
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.MethodSource

/**
 * tests/faults.json, the fault matrix every binding runs: each entry's fault is injected
 * into the mock server and the call must throw the expected CoboOAuthException subclass
 * with the expected properties.
 */
@ExtendWith(MockServerExtension::class)
class FaultMatrixTest(private val mock: MockServer) {
    private val app = mock.newApp()

    @AfterEach
    fun clearLeftoverFaults() = mock.reset()

    @ParameterizedTest(name = "{0}")
    @MethodSource("entries")
    fun `each fault gives its exception`(entry: JSONObject) = check(entry) { client, operation ->
        when (operation) {
            "get" -> ({ client.getOrgToken(app.clientId, app.orgId) })
            "refresh" -> {
                val token = client.getOrgToken(app.clientId, app.orgId)
                ({ client.refreshOrgToken(app.clientId, token.refreshToken) })
            }
            else -> fail("unknown operation $operation")
        }
    }

    /** The same matrix through AsyncOAuthClient's suspend functions (each awaited in runBlocking). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("entries")
    fun `each fault gives its exception through AsyncOAuthClient`(entry: JSONObject) = check(entry) { client, operation ->
        val async = AsyncOAuthClient(client)
        when (operation) {
            "get" -> ({ runBlocking { async.getOrgToken(app.clientId, app.orgId) } })
            "refresh" -> {
                val token = runBlocking { async.getOrgToken(app.clientId, app.orgId) }
                ({ runBlocking { async.refreshOrgToken(app.clientId, token.refreshToken) } })
            }
            else -> fail("unknown operation $operation")
        }
    }

    /**
     * Injects [entry]'s fault and checks the exception of the call that [prepare] returns
     * (made with a client configured as the entry says; a "refresh" entry's first token is
     * taken before the fault is queued).
     */
    private fun check(entry: JSONObject, prepare: (OAuthClient, String) -> () -> OrgToken) {
        val operation = entry.getString("operation")
        val expect = entry.getJSONObject("expect")
        val config = mock.config().with(entry.getJSONObject("client"))
        OAuthClient(app.key, config).use { client ->
            val call = prepare(client, operation)
            mock.reset()
            mock.queueFault(entry.getJSONObject("fault"), operation)
            val started = System.nanoTime()
            val e = assertThrows<CoboOAuthException> { call() }
            val tookMs = (System.nanoTime() - started) / 1_000_000
            assertEquals(expect.getString("variant"), e.variant, "variant; got $e")
            for (key in expect.keySet() - "variant") {
                val actual = e.fields[key] ?: fail("${e.variant} has no field $key")
                assertEquals(expect.get(key).normalized(), actual, "$key; got $e")
            }
            assertHidesKey(e)
            assertEquals(1, mock.counters().getInt(operation), "max_retries 0: exactly one request")
            if (e is CoboOAuthException.Timeout) {
                // timeout_ms bounds the whole attempt, a dripping or stalled body included.
                val limit = config.timeoutMs.toLong() + TIMEOUT_SLACK_MS
                assertTrue(tookMs < limit) { "Timeout after $tookMs ms, expected under $limit" }
            }
        }
    }

    @Test
    fun `the GET is retried after 5XX until it succeeds`() {
        OAuthClient(app.key, mock.config().copy(maxRetries = 2U, retryBaseDelayMs = 10UL, retryMaxDelayMs = 20UL)).use { client ->
            mock.queueFault(JSONObject().put("kind", "server_error"), "get", count = 2)
            assertEquals("Bearer", client.getOrgToken(app.clientId, app.orgId).tokenType)
            assertEquals(3, mock.counters().getInt("get"))
        }
    }

    @Test
    fun `the GET gives up after maxRetries`() {
        OAuthClient(app.key, mock.config().copy(maxRetries = 1U, retryBaseDelayMs = 10UL, retryMaxDelayMs = 20UL)).use { client ->
            mock.queueFault(JSONObject().put("kind", "unsigned").put("status", 503), "get", count = 5)
            val e = assertThrows<CoboOAuthException.Unavailable> { client.getOrgToken(app.clientId, app.orgId) }
            assertEquals(503.toUShort(), e.status)
            assertEquals(2, mock.counters().getInt("get"))
        }
    }

    @Test
    fun `the refresh POST is not replayed once sent`() {
        OAuthClient(app.key, mock.config().copy(maxRetries = 2U, retryBaseDelayMs = 10UL, retryMaxDelayMs = 20UL)).use { client ->
            val token = client.getOrgToken(app.clientId, app.orgId)
            mock.reset()
            mock.queueFault(JSONObject().put("kind", "drop_connection"), "refresh", count = 3)
            assertThrows<CoboOAuthException.Transport> { client.refreshOrgToken(app.clientId, token.refreshToken) }
            assertEquals(1, mock.counters().getInt("refresh"))
        }
    }

    private fun assertHidesKey(e: CoboOAuthException) {
        assertFalse(e.toString().contains(app.key.privateKeyHex().value), "the private key shows in $e")
    }

    companion object {
        /** Scheduling on a busy machine, on top of timeout_ms. */
        private const val TIMEOUT_SLACK_MS = 1_000L

        @JvmStatic
        fun entries(): List<Named<JSONObject>> =
            org.json.JSONArray(Repo.text("tests/faults.json")).objects().map { Named.of(it.getString("name"), it) }

        /** JSON numbers compare as Long, like [CoboOAuthException.fields]. */
        private fun Any.normalized(): Any = if (this is Number) toLong() else this

        /** Applies the entry's ClientConfig overrides (UDL field names). */
        private fun ClientConfig.with(overrides: JSONObject): ClientConfig = overrides.keySet().fold(this) { config, key ->
            when (key) {
                "max_retries" -> config.copy(maxRetries = overrides.getInt(key).toUInt())
                "timeout_ms" -> config.copy(timeoutMs = overrides.getLong(key).toULong())
                "connect_timeout_ms" -> config.copy(connectTimeoutMs = overrides.getLong(key).toULong())
                "retry_base_delay_ms" -> config.copy(retryBaseDelayMs = overrides.getLong(key).toULong())
                "retry_max_delay_ms" -> config.copy(retryMaxDelayMs = overrides.getLong(key).toULong())
                "total_timeout_ms" -> config.copy(totalTimeoutMs = overrides.getLong(key).toULong())
                "user_agent" -> config.copy(userAgent = overrides.getString(key))
                else -> fail("unknown client override $key")
            }
        }
    }
}
