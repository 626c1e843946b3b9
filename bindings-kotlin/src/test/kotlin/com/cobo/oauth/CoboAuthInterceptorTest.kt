package com.cobo.oauth

import com.cobo.oauth.quickstart.listWallets
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.Interceptor
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
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource
import java.nio.file.Path
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

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

    /** With [downstream]: an interceptor between this one and the network, which sees (and may change) each attempt. */
    private fun http(verifier: ResponseVerifier? = this.verifier, downstream: Interceptor? = null) =
        OkHttpClient.Builder().addInterceptor(CoboAuthInterceptor(app.key, manager, verifier, app.orgId))
            .apply { downstream?.let { addInterceptor(it) } }
            .build()

    private fun get(url: String) = Request.Builder().url(url).build()

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

    @ParameterizedTest(name = "expire_only={0}")
    @ValueSource(booleans = [false, true])
    fun `after a revoke the next call renews the token once and goes through`(expireOnly: Boolean) {
        val http = http()
        echo(http, get(wallets))
        mock.reset()
        assertTrue(mock.revoke(app.orgId, expireOnly) > 0)
        // A POST too: a 500 naming the token means Cobo did nothing, whatever the method.
        val post = Request.Builder().url(wallets).post("""{"name":"w"}""".toRequestBody("application/json".toMediaType())).build()
        assertEquals("w", echo(http, post).getJSONObject("body").getString("name"))
        val counters = mock.counters()
        println("revoke (expire_only=$expireOnly), one caller: $counters")
        assertTrue(counters.getInt("issued") in 1..2) { "renewals: $counters" }
        assertEquals(1 to 1, counters(), "refused once with the revoked token, then accepted")
        echo(http, get(wallets))
        assertEquals(counters.getInt("issued"), mock.counters().getInt("issued"), "the renewed token is kept")
    }

    @ParameterizedTest(name = "expire_only={0}")
    @ValueSource(booleans = [false, true])
    fun `a hundred concurrent callers refused with a revoked token share one renewal`(expireOnly: Boolean) {
        val http = http()
        echo(http, get(wallets))
        mock.reset()
        assertTrue(mock.revoke(app.orgId, expireOnly) > 0)
        val pool = Executors.newFixedThreadPool(CALLERS)
        val start = CountDownLatch(1)
        val failures = Collections.synchronizedList(mutableListOf<Throwable>())
        repeat(CALLERS) { caller ->
            pool.execute {
                try {
                    start.await()
                    echo(http, get("$wallets?caller=$caller"))
                } catch (e: Throwable) {
                    failures.add(e)
                }
            }
        }
        start.countDown()
        pool.shutdown()
        assertTrue(pool.awaitTermination(120, TimeUnit.SECONDS))
        val counters = mock.counters()
        println("revoke (expire_only=$expireOnly), $CALLERS concurrent callers: $counters")
        assertEquals(emptyList<Throwable>(), failures.toList())
        assertEquals(1, counters.getInt("issued")) { "renewals: $counters" }
        assertEquals(CALLERS, counters.getInt("protected_accepted"))
        assertTrue(counters.getInt("protected_refused") in 1..CALLERS) { "$counters" }
        assertEquals(0, counters.getInt("nonce_reuses"))
    }

    @Test
    fun `a generic 500 is returned as it is, never sent again`() {
        val http = http()
        echo(http, get(wallets)) // the token is cached: the faults below reach only the call under test
        mock.reset()
        // Any request the interceptor signs gets the fault; the token endpoint's GET is one that faults apply to.
        val token = "${mock.baseUrl}/oauth/token".toHttpUrl().newBuilder()
            .addQueryParameter("client_id", app.clientId).addQueryParameter("org_id", app.orgId)
            .addQueryParameter("grant_type", "org_implicit").build().toString()
        mock.queueFault(JSONObject().put("kind", "server_error"), "get", count = 2)
        http.newCall(get(token)).execute().use { response ->
            assertEquals(500, response.code)
            assertEquals(12001, JSONObject(response.body!!.string()).getInt("error_code"))
        }
        assertEquals(1 to 1, mock.counters().let { it.getInt("get") to it.getInt("faulted") }, "sent once")
        mock.reset()
        // A proxy's unsigned 500 is Unavailable, also without a second attempt.
        mock.queueFault(JSONObject().put("kind", "unsigned").put("status", 500), "get", count = 2)
        assertThrows<CoboOAuthException.Unavailable> { http.newCall(get(token)).execute() }
        assertEquals(1 to 1, mock.counters().let { it.getInt("get") to it.getInt("faulted") }, "sent once")
        mock.reset()
        assertEquals(0, mock.counters().getInt("issued"))
    }

    @Test
    fun `a replayed nonce is refused and the call re-signed`() {
        val first = AtomicInteger()
        val seen = Collections.synchronizedList(mutableListOf<Request>())
        val record = Interceptor { chain -> seen.add(chain.request()); chain.proceed(chain.request()) }
        echo(http(downstream = record), get(wallets))
        mock.reset()
        // The same call again, its first attempt carrying the first call's nonce and signature
        // (valid over the same content), as a second host drawing the same nonce would.
        val replay = Interceptor { chain ->
            val request = if (first.getAndIncrement() == 0) {
                chain.request().newBuilder()
                    .header("Biz-Api-Nonce", seen.single().header("Biz-Api-Nonce")!!)
                    .header("Biz-Api-Signature", seen.single().header("Biz-Api-Signature")!!)
                    .build()
            } else {
                chain.request()
            }
            chain.proceed(request)
        }
        echo(http(downstream = replay), get(wallets))
        val counters = mock.counters()
        assertEquals(2, first.get(), "one resend")
        assertEquals(1 to 1, counters())
        assertEquals(1, counters.getInt("nonce_reuses"))
        assertEquals(0, counters.getInt("issued"), "the token was kept")
    }

    @Test
    fun `a CoboAuth refusal is re-signed at most 3 times, then returned`() {
        val attempts = AtomicInteger()
        val nonces = Collections.synchronizedSet(HashSet<String>())
        val corrupt = Interceptor { chain ->
            attempts.incrementAndGet()
            nonces.add(chain.request().header("Biz-Api-Nonce")!!)
            chain.proceed(chain.request().newBuilder().header("Biz-Api-Signature", "00".repeat(64)).build())
        }
        manager.accessToken(app.orgId)
        mock.reset()
        val post = Request.Builder().url(wallets).post("{}".toRequestBody("application/json".toMediaType())).build()
        http(downstream = corrupt).newCall(post).execute().use { response ->
            assertEquals(401, response.code)
            assertEquals(Refusal.COBO_AUTH, classifyRefusal(401U, response.body!!.bytes()))
        }
        assertEquals(4, attempts.get())
        assertEquals(4, nonces.size, "each attempt freshly signed")
        assertEquals(0 to 4, counters())
    }

    @Test
    fun `a host clock off Cobo's costs one refused call, re-signed on Cobo's clock`(@TempDir dir: Path) {
        // In a child JVM with a clock directory of its own: the offset to Cobo's clock it
        // learns is shared by every process that signs from the same directory (the host's
        // by default), and this mock's clock is put back after the test.
        val spec = "file:${dir.resolve("tokens.json")}"
        val store = CoordinationWorker.store(spec)
        try {
            TokenManager(client, app.clientId, store).use { it.accessToken(app.orgId) }
        } finally {
            (store as AutoCloseable).close()
        }
        mock.reset()
        mock.setClockOffset(CLOCK_OFFSET_MILLIS)
        val (exit, output) = try {
            val args = listOf("--wallets", mock.baseUrl, mock.responsePublicKey, app.clientId, app.orgId, spec, "1", "0")
            val environment = mapOf(
                "COBO_TEST_PRIVATE_KEY" to app.key.privateKeyHex().value,
                "COBO_OAUTH_CLOCK_DIR" to dir.resolve("clock").toString(),
            )
            val child = ChildJvm.start(ChildJvm.testClassPath, CoordinationWorker::class.java.name, args, environment)
            val output = child.inputStream.bufferedReader().readText()
            assertTrue(child.waitFor(60, TimeUnit.SECONDS)) { "the child JVM did not finish" }
            child.exitValue() to output
        } finally {
            mock.setClockOffset(0)
        }
        assertEquals(0, exit) { "the child JVM failed: $output" }
        assertEquals(1L, CoordinationWorker.Counts.fromJson(output.trim().lines().last()).calls)
        val counters = mock.counters()
        println("a host clock ${CLOCK_OFFSET_MILLIS} ms behind Cobo's: $counters")
        assertEquals(1 to 1, counters(), "refused once, then accepted")
        assertEquals(1, counters.getInt("nonce_out_of_window"))
        assertEquals(0 to 0, counters.getInt("get") to counters.getInt("refresh"), "the token came from the file, so the call taught the clock")
    }

    @Test
    fun `two JVMs signing with one key flat out are never refused`(@TempDir dir: Path) {
        // Both processes draw nonces from the host's one clock for the key (the default
        // clock directory: neither sets COBO_OAUTH_CLOCK_DIR) and share the org's token in a file.
        val spec = "file:${dir.resolve("tokens.json")}"
        val args = listOf("--wallets", mock.baseUrl, mock.responsePublicKey, app.clientId, app.orgId, spec, "$WORKER_THREADS", "$RUN_MILLIS")
        val environment = mapOf("COBO_TEST_PRIVATE_KEY" to app.key.privateKeyHex().value)
        val store = CoordinationWorker.store(spec)
        val (ours, theirs) = try {
            TokenManager(client, app.clientId, store).use { shared ->
                val http = CoordinationWorker.walletsClient(app.key, shared, mock.responsePublicKey, app.orgId)
                echo(http, get(wallets))
                mock.reset()
                val child = ChildJvm.start(ChildJvm.testClassPath, CoordinationWorker::class.java.name, args, environment)
                val output = child.inputStream.bufferedReader()
                assertEquals("ready", output.readLine(), "the child JVM did not start calling")
                val ours = CoordinationWorker.wallets(http, wallets, WORKER_THREADS, RUN_MILLIS)
                val rest = output.readText()
                assertTrue(child.waitFor(60, TimeUnit.SECONDS)) { "the child JVM did not finish" }
                assertEquals(0, child.exitValue()) { "the child JVM failed: $rest" }
                ours to CoordinationWorker.Counts.fromJson(rest.trim().lines().last())
            }
        } finally {
            (store as AutoCloseable).close()
        }
        val counters = mock.counters()
        println("two JVMs, one key, $RUN_MILLIS ms flat out: this JVM ${ours.calls} calls, the child ${theirs.calls}; $counters")
        assertEquals(emptyList<String>(), ours.errors + theirs.errors)
        assertEquals(0 to 0, counters.getInt("protected_refused") to counters.getInt("nonce_reuses")) { "$counters" }
        assertEquals(0, counters.getInt("nonce_out_of_window"))
        assertEquals(ours.calls + theirs.calls, counters.getLong("protected_accepted"))
        assertTrue(ours.calls > 100 && theirs.calls > 100) { "both kept calling: ${ours.calls}, ${theirs.calls}" }
        assertEquals(0, counters.getInt("issued"), "the child adopted the stored token")
    }

    private companion object {
        /** Every character a query value must have encoded, and one that must not be. */
        const val AWKWARD = "a b+c&d=e/f~é"
        const val CALLERS = 100
        const val WORKER_THREADS = 4
        const val RUN_MILLIS = 5000L
        const val CLOCK_OFFSET_MILLIS = 120_000L
    }
}
