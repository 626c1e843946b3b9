package com.cobo.oauth

import okhttp3.OkHttpClient
import okhttp3.Request
import org.json.JSONObject
import java.util.Collections
import java.util.concurrent.atomic.AtomicLong
import kotlin.concurrent.thread
import kotlin.system.exitProcess

/**
 * One "process" of CoordinationTest: a TokenManager on a shared store whose threads ask
 * for the org's access token again and again for a while. The test JVM runs one in
 * itself and starts more in child JVMs through [main]. With `--wallets` (for
 * CoboAuthInterceptorTest) the threads call the mock's `/v2/wallets` flat out through a
 * [CoboAuthInterceptor] instead, signing with the key every process shares.
 */
object CoordinationWorker {
    /** Access tokens handed out, and every error any thread saw (class and message). */
    class Counts(val calls: Long, val errors: List<String>) {
        fun toJson(): JSONObject = JSONObject().put("calls", calls).put("errors", errors)

        companion object {
            fun fromJson(line: String): Counts = JSONObject(line).let { json ->
                Counts(json.getLong("calls"), json.getJSONArray("errors").map { it.toString() })
            }
        }
    }

    /** The worker's store: `file:PATH`, or `redis:PREFIX` on `$COBO_OAUTH_REDIS_URL`. */
    fun store(spec: String): TokenStore {
        val (kind, value) = spec.split(':', limit = 2).let { it[0] to it[1] }
        return when (kind) {
            "file" -> fileTokenStore(value)
            "redis" -> redisTokenStore(Secret(redisUrl()), value, 2000UL)
            else -> error("store must be file:PATH or redis:PREFIX, not $spec")
        }
    }

    fun redisUrl(): String = System.getenv("COBO_OAUTH_REDIS_URL")
        ?: error("COBO_OAUTH_REDIS_URL is not set: run under tests/redis/with-redis.sh (make test-kotlin does)")

    /** Every one of [threads] threads asks [manager] for [orgId]'s token every 5 ms for [millis]. */
    fun run(manager: TokenManager, orgId: String, threads: Int, millis: Long): Counts {
        val until = System.nanoTime() + millis * 1_000_000
        val calls = AtomicLong()
        val errors = Collections.synchronizedList(mutableListOf<String>())
        val workers = (1..threads).map {
            thread(name = "coordination-worker-$it") {
                while (System.nanoTime() < until) {
                    try {
                        check(manager.accessToken(orgId).value.isNotEmpty()) { "an empty access token" }
                        calls.incrementAndGet()
                    } catch (e: Throwable) {
                        errors += "${e.javaClass.name}: ${e.message}"
                    }
                    Thread.sleep(5)
                }
            }
        }
        workers.forEach { it.join() }
        return Counts(calls.get(), errors.toList())
    }

    /**
     * Every one of [threads] threads calls [url] through [http] back to back for [millis];
     * a call counts when it is answered 200. An answer other than 200 is an error.
     */
    fun wallets(http: OkHttpClient, url: String, threads: Int, millis: Long): Counts {
        val until = System.nanoTime() + millis * 1_000_000
        val calls = AtomicLong()
        val errors = Collections.synchronizedSet(LinkedHashSet<String>())
        val workers = (1..threads).map {
            thread(name = "wallets-worker-$it") {
                while (System.nanoTime() < until) {
                    try {
                        http.newCall(Request.Builder().url(url).build()).execute().use { response ->
                            if (response.code == 200) calls.incrementAndGet() else errors += "HTTP ${response.code}: ${response.body?.string()}"
                        }
                    } catch (e: Throwable) {
                        errors += "${e.javaClass.name}: ${e.message}"
                    }
                }
            }
        }
        workers.forEach { it.join() }
        return Counts(calls.get(), errors.toList())
    }

    /** An OkHttp client that signs for [orgId] with [key] and [manager], checking answers with [responseKey]. */
    fun walletsClient(key: AppKey, manager: TokenManager, responseKey: String, orgId: String): OkHttpClient =
        OkHttpClient.Builder()
            .addInterceptor(CoboAuthInterceptor(key, manager, ResponseVerifier.withKey(responseKey), orgId))
            .build()

    /**
     * `CoordinationWorker [--wallets] BASE_URL RESPONSE_KEY CLIENT_ID ORG_ID STORE THREADS MILLIS`,
     * the app's private key in `$COBO_TEST_PRIVATE_KEY`; prints [Counts] as one JSON line.
     * With `--wallets` it calls `BASE_URL/wallets` once, prints `ready`, and then runs [wallets].
     */
    @JvmStatic
    fun main(args: Array<String>) {
        try {
            val walletsMode = args.firstOrNull() == "--wallets"
            val (baseUrl, responseKey, clientId, orgId, spec, threads, millis) = if (walletsMode) args.copyOfRange(1, args.size) else args
            val config = ClientConfig(baseUrl = baseUrl, responsePublicKey = responseKey, maxRetries = 0U)
            AppKey(Secret(System.getenv("COBO_TEST_PRIVATE_KEY"))).use { key ->
                OAuthClient(key, config).use { client ->
                    if (walletsMode) {
                        TokenManager(client, clientId, store(spec)).use { manager ->
                            val http = walletsClient(key, manager, responseKey, orgId)
                            http.newCall(Request.Builder().url("$baseUrl/wallets").build()).execute().use {
                                check(it.code == 200) { "the first call got HTTP ${it.code}" }
                            }
                            println("ready")
                            System.out.flush()
                            val counts = wallets(http, "$baseUrl/wallets", threads.toInt(), millis.toLong())
                            println(Counts(counts.calls + 1, counts.errors).toJson())
                            http.dispatcher.executorService.shutdown()
                            http.connectionPool.evictAll()
                        }
                    } else {
                        TokenManager(client, clientId, store(spec), managerConfig()).use { manager ->
                            println(run(manager, orgId, threads.toInt(), millis.toLong()).toJson())
                        }
                    }
                }
            }
        } catch (t: Throwable) {
            t.printStackTrace()
            exitProcess(3)
        }
    }

    /** 2 s access tokens (the mock's `--access-ttl 2`) renewed in their last second. */
    fun managerConfig() = TokenManagerConfig(refreshMarginSecs = 1UL, leaseTtlMs = 2000UL)

    private operator fun <T> Array<T>.component6() = this[5]
    private operator fun <T> Array<T>.component7() = this[6]
}
