package com.cobo.oauth

import org.json.JSONObject
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.util.UUID
import java.util.concurrent.TimeUnit

/**
 * The shared mock server, target/release/cobo-oauth-mock, as a child process, and its
 * control API. It runs until its stdin (a pipe held here) closes: [close] closes it.
 */
class MockServer private constructor(private val process: Process, ready: JSONObject) : AutoCloseable {
    val baseUrl: String = ready.getString("base_url")
    val controlUrl: String = ready.getString("control_url")
    val responsePublicKey: String = ready.getString("response_public_key")

    /** With `--tls`: the PEM of the throwaway CA that signed the server certificate. */
    val caPem: String? = ready.optString("ca_pem").ifEmpty { null }
    private val http = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).build()

    /** A client configuration that talks to this server and trusts its response key (and its CA). */
    fun config(): ClientConfig = ClientConfig(baseUrl = baseUrl, responsePublicKey = responsePublicKey, extraCaPem = caPem)

    /** Registers an app with a fresh key and a unique client ID, installed in one org. */
    fun newApp(): TestApp {
        val app = TestApp("app-${UUID.randomUUID()}", AppKey.generate(), "org-${UUID.randomUUID()}")
        post("/apps", JSONObject().put("client_id", app.clientId).put("api_key", app.key.apiKey()).put("orgs", listOf(app.orgId)))
        return app
    }

    /** Re-registers [app] installed in exactly [orgs]: an org left out is refused (403 unauthorized_client). */
    fun register(app: TestApp, orgs: List<String>) {
        post("/apps", JSONObject().put("client_id", app.clientId).put("api_key", app.key.apiKey()).put("orgs", orgs))
    }

    /** Access tokens issued from now on live [seconds] (the mock's default: 43199). */
    fun setAccessTtl(seconds: Long) {
        post("/config", JSONObject().put("access_ttl_secs", seconds))
    }

    /** Moves the mock's clock (nonce window, expiry, `Biz-Timestamp`) [millis] from the host's; 0 puts it back. */
    fun setClockOffset(millis: Long) {
        post("/config", JSONObject().put("clock_offset_ms", millis))
    }

    /**
     * Revokes every token family of [orgId] behind its clients' backs (or, with
     * [expireOnly], expires its access tokens): WaaS calls with them get the 500 with
     * `error_code` 2040. Returns how many tokens it touched.
     */
    fun revoke(orgId: String, expireOnly: Boolean = false): Int =
        post("/revoke", JSONObject().put("org_id", orgId).put("expire_only", expireOnly)).getInt("tokens")

    /** Replaces the next [count] requests of [operation] ("get", "refresh", "any") with [fault]. */
    fun queueFault(fault: JSONObject, operation: String, count: Int = 1) {
        post("/faults", JSONObject().put("fault", fault).put("count", count).put("operation", operation))
    }

    /** The next [count] accepted protected (`/v2/wallets…`) answers arrive with a body other than the signed one. */
    fun tamper(count: Int = 1) {
        post("/tamper", JSONObject().put("count", count))
    }

    /** `{"get", "refresh", "rejected", "total", …}` since start or the last [reset]. */
    fun counters(): JSONObject = send(HttpRequest.newBuilder(URI.create("$controlUrl/counters")).GET())

    /**
     * Polls the counter [name] until it reaches [atLeast]: a test waits for the mock to see
     * a request (e.g. one it holds with a `delay` fault) instead of sleeping and assuming it.
     * [pause] waits between polls (a coroutine passes `delay` so that its loop runs on).
     */
    suspend fun awaitCounter(name: String, atLeast: Int, pause: suspend (Long) -> Unit) {
        val until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (counters().getInt(name) < atLeast) {
            check(System.nanoTime() < until) { "the mock's $name stayed below $atLeast for 30 s: ${counters()}" }
            pause(10)
        }
    }

    /** [awaitCounter] for a thread. */
    fun awaitCounter(name: String, atLeast: Int) = kotlinx.coroutines.runBlocking { awaitCounter(name, atLeast) { Thread.sleep(it) } }

    /** Clears queued faults and counters; apps and tokens stay. */
    fun reset() {
        post("/reset", JSONObject())
    }

    private fun post(path: String, body: JSONObject): JSONObject =
        send(
            HttpRequest.newBuilder(URI.create(controlUrl + path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())),
        )

    private fun send(request: HttpRequest.Builder): JSONObject {
        val response = http.send(request.build(), HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "mock control API: HTTP ${response.statusCode()} ${response.body()}" }
        return JSONObject(response.body())
    }

    override fun close() {
        process.outputStream.close()
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly()
            error("the mock server did not exit when its stdin closed")
        }
    }

    companion object {
        /**
         * Starts the server with [args] (e.g. `--tls`) and waits for its ready line; its
         * request log goes to target/mock-server.log.
         */
        fun start(vararg args: String): MockServer {
            val (process, ready) = startMockBinary(*args)
            return MockServer(process, ready)
        }
    }
}

/** A Portal App registered with the mock server. */
class TestApp(val clientId: String, val key: AppKey, val orgId: String)

/** Runs target/release/cobo-oauth-mock with [args]; returns the process and its start line. */
internal fun startMockBinary(vararg args: String): Pair<Process, JSONObject> {
    val binary = Repo.path("target/release/cobo-oauth-mock")
    check(Files.isExecutable(binary)) { "$binary is missing: run make build" }
    val log = Repo.buildDir.resolve("mock-server.log").toFile()
    val process = ProcessBuilder(binary.toString(), *args)
        .redirectError(ProcessBuilder.Redirect.appendTo(log))
        .start()
    val ready = process.inputStream.bufferedReader().readLine()
        ?: error("cobo-oauth-mock ${args.joinToString(" ")} exited before it was ready; see $log")
    return process to JSONObject(ready)
}
