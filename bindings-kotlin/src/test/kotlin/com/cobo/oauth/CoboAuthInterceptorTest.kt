package com.cobo.oauth

import com.cobo.oauth.quickstart.listWallets
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.MediaType.Companion.toMediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody
import okhttp3.RequestBody.Companion.toRequestBody
import okio.BufferedSink
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.util.Collections
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/**
 * The OkHttp interceptor against the mock's protected endpoint, which checks CoboAuth
 * over the bytes that arrived: an accepted call proves the signature covers what
 * OkHttp sent.
 */
@ExtendWith(MockServerExtension::class)
class CoboAuthInterceptorTest(private val mock: MockServer) {
    private val app = mock.newApp()
    private val client = OAuthClient(app.key, mock.config().copy(maxRetries = 0U))
    private val manager = TokenManager(client, app.clientId, null, TokenManagerConfig(refreshMarginSecs = 0UL))
    private val verifier = ResponseVerifier.withKey(mock.responsePublicKey)
    private val wallets = "${mock.baseUrl}/wallets"

    private fun http(verifier: ResponseVerifier? = this.verifier) =
        OkHttpClient.Builder().addInterceptor(CoboAuthInterceptor(app.key, manager, verifier, app.orgId)).build()

    /** The mock's echo of what arrived. */
    private fun echo(http: OkHttpClient, request: Request): JSONObject =
        http.newCall(request).execute().use { response ->
            val body = response.body?.string().orEmpty()
            assertEquals(200, response.code, body)
            JSONObject(body).getJSONObject("request")
        }

    private fun counters(): Pair<Int, Int> =
        mock.counters().let { it.getInt("protected_accepted") to it.getInt("protected_refused") }

    @BeforeEach
    fun reset() = mock.reset()

    @AfterEach
    fun close() {
        mock.setAccessTtl(43199)
        manager.close()
        client.close()
    }

    @Test
    fun `a query that needs encoding and a JSON POST are accepted`() {
        val http = http()
        val url = wallets.toHttpUrl().newBuilder().addQueryParameter("name", AWKWARD).addQueryParameter("limit", "10").build()
        val echo = echo(http, Request.Builder().url(url).build())
        assertEquals(JSONArray(listOf(listOf("name", AWKWARD), listOf("limit", "10"))).toString(), echo.getJSONArray("params").toString())
        assertEquals(app.orgId, echo.getString("org_id"))

        val payload = JSONObject().put("name", AWKWARD).put("wallet_type", "Custodial")
        val post = Request.Builder().url("$wallets/w%201/addresses")
            .post(payload.toString().toRequestBody("application/json".toMediaType())).build()
        val posted = echo(http, post)
        assertTrue(payload.similar(posted.getJSONObject("body"))) { posted.toString() }
        assertEquals("/v2/wallets/w%201/addresses", posted.getString("path"))
        assertEquals(2 to 0, counters())
    }

    @Test
    fun `a tampered response is rejected unless verification is off`() {
        mock.tamper()
        assertThrows<CoboOAuthException.ResponseSignature> {
            http().newCall(Request.Builder().url(wallets).build()).execute()
        }
        mock.tamper()
        http(verifier = null).newCall(Request.Builder().url(wallets).build()).execute().use { response ->
            val body = JSONObject(response.body?.string().orEmpty())
            assertEquals(1_000_000, body.getJSONObject("pagination").getInt("total_count"))
        }
    }

    @Test
    fun `an expired token is renewed before the call, not after a 500`() {
        val http = http()
        mock.setAccessTtl(1)
        echo(http, Request.Builder().url(wallets).build())
        Thread.sleep(1100)
        mock.setAccessTtl(43199)
        echo(http, Request.Builder().url(wallets).build())
        val counters = mock.counters()
        assertEquals(1 to 1, counters.getInt("get") to counters.getInt("refresh"), "renewed by the clock")
        assertEquals(2 to 0, counters(), "never sent a dead token")
    }

    @Test
    fun `sixteen threads share one interceptor, every nonce unique`() {
        val http = http()
        val pool = Executors.newFixedThreadPool(16)
        val failures = Collections.synchronizedList(mutableListOf<Throwable>())
        repeat(16) { thread ->
            pool.execute {
                try {
                    repeat(4) { call ->
                        val url = wallets.toHttpUrl().newBuilder().addQueryParameter("t", "$thread/$call").build()
                        echo(http, Request.Builder().url(url).build())
                    }
                } catch (e: Throwable) {
                    failures.add(e)
                }
            }
        }
        pool.shutdown()
        assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS))
        assertEquals(emptyList<Throwable>(), failures.toList())
        // The mock refuses a reused nonce: 64 accepted calls had 64 distinct nonces.
        assertEquals(64 to 0, counters())
        assertEquals(1, mock.counters().getInt("get"))
    }

    @Test
    fun `one-shot and non-UTF-8 bodies are refused before anything is sent`() {
        val oneShot = object : RequestBody() {
            override fun contentType() = "application/json".toMediaType()
            override fun isOneShot() = true
            override fun writeTo(sink: BufferedSink) {
                sink.writeUtf8("{}")
            }
        }
        for (body in listOf(oneShot, byteArrayOf(0xff.toByte(), 0xfe.toByte()).toRequestBody())) {
            assertThrows<CoboOAuthException.InvalidArgument> {
                http().newCall(Request.Builder().url(wallets).post(body).build()).execute()
            }
        }
        assertEquals(0 to 0, counters())
    }

    @Test
    fun `the token and key stay out of toString and exceptions`() {
        val interceptor = CoboAuthInterceptor(app.key, manager, verifier, app.orgId)
        mock.tamper()
        val error = assertThrows<CoboOAuthException.ResponseSignature> {
            OkHttpClient.Builder().addInterceptor(interceptor).build().newCall(Request.Builder().url(wallets).build()).execute()
        }
        val token = manager.accessToken(app.orgId).value
        val key = app.key.privateKeyHex().value
        for (printed in listOf(interceptor.toString(), error.toString(), error.message.orEmpty())) {
            assertFalse(printed.contains(token)) { "the token shows in: $printed" }
            assertFalse(printed.contains(key)) { "the key shows in: $printed" }
        }
        assertTrue(interceptor.toString().contains(app.key.apiKey()))
    }

    @Test
    fun `the README snippet lists wallets`() {
        val listed = JSONObject(listWallets(app.key, mock.config(), verifier, app.clientId, app.orgId))
        assertEquals("wallet_type=Custodial&limit=10", listed.getJSONObject("request").getString("query"))
        assertEquals(0, listed.getJSONArray("data").length())
    }

    private companion object {
        /** Every character a query value must have encoded, and one that must not be. */
        const val AWKWARD = "a b+c&d=e/f~é"
    }
}
