package com.cobo.oauth.bench
import com.cobo.oauth.*
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.suspendCancellableCoroutine
import java.util.concurrent.Executors
import kotlin.coroutines.resume
import kotlin.coroutines.resumeWithException

fun timeIt(label: String, n: Int, op: () -> Unit): Double {
    repeat(n / 4) { op() }
    val t0 = System.nanoTime()
    repeat(n) { op() }
    val dt = (System.nanoTime() - t0).toDouble() / n
    println("%-40s %10.0f ns/op".format(label, dt))
    return dt
}

val pool = Executors.newCachedThreadPool { r -> Thread(r).apply { isDaemon = true } }
suspend fun viaPool(client: OAuthClient, c: String, o: String): OrgToken = suspendCancellableCoroutine { cont ->
    pool.execute { try { cont.resume(client.getOrgToken(c, o)) } catch (e: Throwable) { cont.resumeWithException(e) } }
}

fun main(args: Array<String>) {
    MockServer(args[0]).use { mock ->
        val key = AppKey.generate()
        mock.register("c", key.apiKey())
        val client = OAuthClient(key, ClientConfig(baseUrl = mock.baseUrl, responsePublicKey = mock.responsePublicKey))
        val async = AsyncOAuthClient(client)
        val n = 2000
        fun round() {
            val s = timeIt("sync", n) { client.getOrgToken("c", ORG) }
            val a = timeIt("async (uniffi)", 1) { runBlocking { repeat(n) { async.getOrgToken("c", ORG) } } } / n
            val p = timeIt("async (pool+sync)", 1) { runBlocking { repeat(n) { viaPool(client, "c", ORG) } } } / n
            println("  uniffi %.2f  pool %.2f".format(s / a, s / p))
        }
        repeat(2) { round() }
        com.sun.jna.Native.setCallbackThreadInitializer(uniffiRustFutureContinuationCallbackImpl, com.sun.jna.CallbackThreadInitializer(true, false, "cobo-oauth-future"))
        println("attached")
        repeat(3) { round() }
    }
}
