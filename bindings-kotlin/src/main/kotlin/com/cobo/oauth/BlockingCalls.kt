package com.cobo.oauth

import kotlinx.coroutines.suspendCancellableCoroutine
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.ThreadPoolExecutor
import java.util.concurrent.TimeUnit

/**
 * Where [AsyncOAuthClient]'s suspend calls run the blocking [OAuthClient] call: up to
 * [MAX_THREADS] kept threads (the bound of the core's pool for renewals), each
 * ending after 30 s idle. Calls beyond wait their turn in a queue while their callers
 * stay suspended, holding no thread. generate-bindings.sh wires it into the generated
 * class.
 *
 * Why not UniFFI's future: on the JVM its protocol (poll, a callback from a Rust thread,
 * poll again, complete, free) adds four JNA calls per request, each allocating structures
 * by reflection; they cost more than this hop (0.55× the blocking call's throughput,
 * against about 1× here).
 *
 * A cancelled caller resumes at once; its request runs to the end on its thread and the
 * answer is dropped, as a cancelled UniFFI future's was.
 */
internal object BlockingCalls {
    /** As core/src/blocking_pool.rs. */
    const val MAX_THREADS = 64

    private val threads = ThreadPoolExecutor(MAX_THREADS, MAX_THREADS, 30, TimeUnit.SECONDS, LinkedBlockingQueue()) { call ->
        Thread(call, "cobo-oauth-call").apply { isDaemon = true }
    }.apply { allowCoreThreadTimeOut(true) }

    suspend fun <T> run(call: () -> T): T = suspendCancellableCoroutine { caller ->
        threads.execute { caller.resumeWith(runCatching(call)) }
    }
}
