// Kotlin: the cobo-oauth binding against Cobo's official Java SDK, in one JVM and one run.
// Part of `make bench` (bench/run.sh):
//   java -cp … com.cobo.oauth.bench.MainKt --mock target/release/cobo-oauth-mock --json target/bench/kotlin.json
// - signing: AppKey.signRequest vs what the SDK's AuthenticationInterceptor does per request;
// - get_token round trips against the shared mock server, both verifying the response signature,
//   with p50/p99 latency;
// - TokenManager.accessToken on a fresh cached token;
// - the async forms of both (AsyncOAuthClient.getOrgToken, AsyncTokenManager.accessToken),
//   with their ratios to the blocking ones.
// Every figure: a warm-up (long enough for the JIT), then REPS timed repetitions.
package com.cobo.oauth.bench

import com.cobo.oauth.AppKey
import com.cobo.oauth.AsyncOAuthClient
import com.cobo.oauth.AsyncTokenManager
import com.cobo.oauth.ClientConfig
import com.cobo.oauth.OAuthClient
import com.cobo.oauth.TokenManager
import kotlinx.coroutines.runBlocking
import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

const val REPS = 7
/** The async/sync round trips, whose goal (within 10%) is finer than 7 turns resolve on a noisy machine. */
const val ROUND_TRIP_REPS = 21
const val REP_NS = 300_000_000L
const val WARMUP_NS = 1_500_000_000L
const val ORG = "bench-org"
const val PATH = "/v2/oauth/token"
val PARAMS = linkedMapOf(
    "client_id" to "pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij",
    "org_id" to "e3986401-4aec-480a-973d-e775a4518413",
    "grant_type" to "org_implicit",
)
val QUERY = PARAMS.entries.joinToString("&") { "${it.key}=${it.value}" } // nothing to escape

/** What the official SDK's side of the comparison needs; implemented in src/sdk (profile java-sdk). */
interface OfficialSdk {
    val description: String
    val version: String

    /** The CoboAuth signature the SDK makes for `content` (a cross-check before timing). */
    fun signature(privateKeyHex: String, content: String): String

    /** One request's signing, as the SDK's interceptor does it for GET PATH?PARAMS. */
    fun signOperation(privateKeyHex: String): () -> Unit

    /** get_token through the SDK against the mock, verifying the mock's response signature. */
    fun getTokenOperation(mock: MockServer, thread: Int): () -> Unit
}

class Figure(val id: String, val label: String, val rates: List<Double>, val latenciesNs: LongArray = LongArray(0)) {
    private fun quantile(sorted: List<Double>, q: Double): Double {
        val pos = q * (sorted.size - 1)
        val lo = Math.floor(pos).toInt()
        val hi = Math.ceil(pos).toInt()
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
    }

    private val sorted = rates.sorted()
    val median get() = quantile(sorted, 0.5)

    private fun percentileUs(q: Double): Double? {
        if (latenciesNs.isEmpty()) return null
        val l = latenciesNs.sortedArray()
        return l[minOf(l.size - 1, (l.size * q).toInt())] / 1e3
    }

    fun json(): String {
        val fields = mutableListOf(
            "\"id\": \"$id\"", "\"label\": \"$label\"", "\"unit\": \"ops/s\"", "\"reps\": ${rates.size}",
            "\"median\": $median", "\"q1\": ${quantile(sorted, 0.25)}", "\"q3\": ${quantile(sorted, 0.75)}",
            "\"min\": ${sorted.first()}", "\"max\": ${sorted.last()}", "\"ns_per_op\": ${1e9 / median}",
        )
        percentileUs(0.5)?.let { fields += "\"p50_us\": $it" }
        percentileUs(0.99)?.let { fields += "\"p99_us\": $it" }
        return fields.joinToString(", ", "{", "}")
    }

    fun print() {
        val latency = percentileUs(0.5)?.let { "  p50 %.0f us  p99 %.0f us".format(it, percentileUs(0.99)) } ?: ""
        println("  %-46s %12.1f ops/s [%.1f–%.1f]%s".format(label, median, quantile(sorted, 0.25), quantile(sorted, 0.75), latency))
    }
}

/** Operations per second, back to back: a warm-up, then REPS repetitions. */
fun rate(id: String, label: String, op: () -> Unit): Figure {
    val warm = System.nanoTime() + WARMUP_NS
    while (System.nanoTime() < warm) op()
    val rates = (1..REPS).map {
        val start = System.nanoTime()
        var calls = 0L
        while (System.nanoTime() - start < REP_NS) {
            repeat(16) { op() }
            calls += 16
        }
        calls * 1e9 / (System.nanoTime() - start)
    }
    return Figure(id, label, rates)
}

/** A figure to measure: id, label, and the operation. */
class Operation(val id: String, val label: String, val op: () -> Unit)

/**
 * Sequential calls per second with every call's latency. Several operations take their
 * repetitions in turns (A B A B ...), so that a change in the machine's load hits them alike.
 */
fun roundTrips(vararg operations: Operation, reps: Int = REPS): List<Figure> {
    fun run(op: () -> Unit, durationNs: Long): Pair<Double, LongArray> {
        val latencies = ArrayList<Long>()
        val start = System.nanoTime()
        while (true) {
            val began = System.nanoTime()
            if (began - start >= durationNs) break
            op()
            latencies += System.nanoTime() - began
        }
        return latencies.size * 1e9 / (System.nanoTime() - start) to latencies.toLongArray()
    }
    operations.forEach { run(it.op, WARMUP_NS) }
    val runs = operations.map { mutableListOf<Pair<Double, LongArray>>() }
    repeat(reps) { operations.forEachIndexed { i, operation -> runs[i] += run(operation.op, REP_NS) } }
    return operations.mapIndexed { i, operation ->
        Figure(operation.id, operation.label, runs[i].map { it.first }, runs[i].flatMap { it.second.asList() }.toLongArray())
    }
}

fun roundTrips(id: String, label: String, op: () -> Unit): Figure = roundTrips(Operation(id, label, op)).single()

/** As [rate], for a suspend operation, called back to back in one coroutine (runBlocking). */
fun suspendRate(id: String, label: String, op: suspend () -> Unit): Figure = runBlocking {
    val warm = System.nanoTime() + WARMUP_NS
    while (System.nanoTime() < warm) op()
    val rates = (1..REPS).map {
        val start = System.nanoTime()
        var calls = 0L
        while (System.nanoTime() - start < REP_NS) {
            repeat(16) { op() }
            calls += 16
        }
        calls * 1e9 / (System.nanoTime() - start)
    }
    Figure(id, label, rates)
}

/** One cobo-oauth-mock process; it exits when its stdin closes. */
class MockServer(binary: String) : AutoCloseable {
    private val process = ProcessBuilder(binary).redirectError(ProcessBuilder.Redirect.DISCARD).start()
    private val info = process.inputStream.bufferedReader().readLine() ?: error("the mock printed nothing")
    private fun field(name: String) =
        Regex("\"$name\"\\s*:\\s*\"([^\"]*)\"").find(info)?.groupValues?.get(1) ?: error("no $name in $info")

    val baseUrl = field("base_url")
    val controlUrl = field("control_url")
    val responsePublicKey = field("response_public_key")
    private val http = HttpClient.newHttpClient()

    fun register(clientId: String, apiKey: String) {
        val body = """{"client_id": "$clientId", "api_key": "$apiKey", "orgs": ["$ORG"]}"""
        val request = HttpRequest.newBuilder(URI.create("$controlUrl/apps")).POST(HttpRequest.BodyPublishers.ofString(body)).build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() in 200..299) { "registering $clientId: ${response.statusCode()} ${response.body()}" }
    }

    override fun close() {
        process.outputStream.close()
        process.waitFor()
    }
}

/**
 * `--part ours` or `--part official`: bench/run.sh runs each in a JVM of its own, so that
 * neither inherits the other's garbage (JNA frees native memory only after a GC) or JIT state.
 */
fun main(args: Array<String>) {
    fun arg(name: String) = args.indexOf(name).takeIf { it >= 0 }?.let { args[it + 1] }
    val mockBinary = arg("--mock") ?: error("--mock PATH is required")
    val jsonOut = arg("--json") ?: error("--json PATH is required")
    val part = arg("--part") ?: "ours"
    val sdk = runCatching {
        Class.forName("com.cobo.oauth.bench.OfficialJavaSdk").getDeclaredConstructor().newInstance() as OfficialSdk
    }.getOrNull()
    check(part == "ours" || sdk != null) { "--part $part needs the official SDK on the class path (Maven profile java-sdk)" }
    val figures = mutableListOf<Figure>()
    fun add(figure: Figure) = figure.also { figures += it; it.print() }

    val runtime = "JVM ${System.getProperty("java.version")} (${System.getProperty("java.vm.name")})"
    val who = if (part == "ours") "cobo-oauth (Kotlin binding)" else sdk!!.description
    println("Kotlin on $runtime: $who; median of $REPS (async/sync round trips: $ROUND_TRIP_REPS) x ${REP_NS / 1_000_000} ms after ${WARMUP_NS / 1_000_000} ms warm-up [quartiles]")

    val signingKey = AppKey.generate() // signs only: its nonces run ahead of the clock
    if (sdk != null) { // the two must agree before their speeds mean anything
        val ours = signingKey.signRequestWithNonce("GET", PATH, QUERY, "", "1718000000000").signature
        check(ours == sdk.signature(signingKey.privateKeyHex().value, "GET|$PATH|1718000000000|$QUERY|")) {
            "cobo-oauth and the official SDK sign differently"
        }
    }
    MockServer(mockBinary).use { mock ->
        if (part == "ours") {
            add(rate("kotlin.sign.ours", "sign: AppKey.signRequest") { signingKey.signRequest("GET", PATH, QUERY, "") })
            // A fresh key per client: above 1000 requests/s a key's nonces run ahead of the clock.
            fun ours(clientId: String): OAuthClient {
                val key = AppKey.generate()
                mock.register(clientId, key.apiKey())
                return OAuthClient(key, ClientConfig(baseUrl = mock.baseUrl, responsePublicKey = mock.responsePublicKey))
            }
            val client = ours("ours-seq")
            check(client.getOrgToken("ours-seq", ORG).tokenType == "Bearer")
            // The async form in turns with the blocking one: a suspend call per round trip
            // (its runBlocking costs a few µs of the ms).
            val asyncClient = AsyncOAuthClient(client)
            roundTrips(
                Operation("kotlin.get_token.ours", "get_token round trip: OAuthClient") { client.getOrgToken("ours-seq", ORG) },
                Operation("kotlin.get_token.async.ours", "get_token round trip: AsyncOAuthClient") {
                    runBlocking { asyncClient.getOrgToken("ours-seq", ORG) }
                },
                reps = ROUND_TRIP_REPS,
            ).forEach(::add)
            val manager = TokenManager(ours("ours-manager"), "ours-manager")
            manager.accessToken(ORG)
            add(rate("kotlin.access_token.ours", "TokenManager.accessToken (cached)") { manager.accessToken(ORG) })
            // The cached token back to back in one coroutine.
            val tokens = AsyncTokenManager(manager)
            add(suspendRate("kotlin.access_token.async.ours", "AsyncTokenManager.accessToken (cached)") { tokens.accessToken(ORG) })
            fun median(id: String) = figures.single { it.id == id }.median
            // Each turn's async rate over the sync rate measured just before it: drift in the
            // machine's speed between turns cancels out.
            val paired = figures.single { it.id == "kotlin.get_token.async.ours" }.rates
                .zip(figures.single { it.id == "kotlin.get_token.ours" }.rates) { async, sync -> async / sync }.sorted()
            println(
                "  async/sync: accessToken (cached) %.2fx the time per call (goal <= 2), getOrgToken %.2fx the throughput (goal >= 0.9; paired turns' median %.2fx)".format(
                    median("kotlin.access_token.ours") / median("kotlin.access_token.async.ours"),
                    median("kotlin.get_token.async.ours") / median("kotlin.get_token.ours"),
                    paired[paired.size / 2],
                ),
            )
        } else {
            sdk!!
            add(rate("kotlin.sign.official", "sign: LocalEd25519Signer, as its interceptor does", sdk.signOperation(signingKey.privateKeyHex().value)))
            add(roundTrips("kotlin.get_token.official", "get_token round trip: OAuthApi", sdk.getTokenOperation(mock, 0)))
        }
    }

    val versions = if (part == "ours") "\"cobo-oauth\": \"0.1.0\"" else "\"cobo-waas2 (Java)\": \"${sdk!!.version}\""
    File(jsonOut).writeText(
        """{"language": "kotlin", "runtime": "$runtime", "versions": {$versions},""" +
            figures.joinToString(",\n  ", "\n \"figures\": [\n  ", "\n ]}\n") { it.json() },
    )
}
