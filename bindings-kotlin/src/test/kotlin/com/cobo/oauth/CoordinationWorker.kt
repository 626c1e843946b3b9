package com.cobo.oauth

import org.json.JSONObject
import java.util.Collections
import java.util.concurrent.atomic.AtomicLong
import kotlin.concurrent.thread
import kotlin.system.exitProcess

/**
 * One "process" of CoordinationTest: a TokenManager on a shared store whose threads ask
 * for the org's access token again and again for a while. The test JVM runs one in
 * itself and starts more in child JVMs through [main].
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
     * `CoordinationWorker BASE_URL RESPONSE_KEY CLIENT_ID ORG_ID STORE THREADS MILLIS`, the
     * app's private key in `$COBO_TEST_PRIVATE_KEY`; prints [Counts] as one JSON line.
     */
    @JvmStatic
    fun main(args: Array<String>) {
        try {
            val (baseUrl, responseKey, clientId, orgId, spec, threads, millis) = args
            val config = ClientConfig(baseUrl = baseUrl, responsePublicKey = responseKey, maxRetries = 0U)
            AppKey(Secret(System.getenv("COBO_TEST_PRIVATE_KEY"))).use { key ->
                OAuthClient(key, config).use { client ->
                    TokenManager(client, clientId, store(spec), managerConfig()).use { manager ->
                        println(run(manager, orgId, threads.toInt(), millis.toLong()).toJson())
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
