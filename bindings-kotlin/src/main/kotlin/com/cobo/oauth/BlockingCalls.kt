package com.cobo.oauth

import kotlinx.coroutines.suspendCancellableCoroutine
import java.util.concurrent.SynchronousQueue
import java.util.concurrent.ThreadPoolExecutor
import java.util.concurrent.TimeUnit

/**
 * Where [AsyncOAuthClient]'s suspend calls run the blocking [OAuthClient] call: kept
 * threads, one per call in flight, each idle one kept for 30 s (as the core's pool
 * for Rust and Swift futures). generate-bindings.sh wires it into the generated class.
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
    private val threads = ThreadPoolExecutor(0, Int.MAX_VALUE, 30, TimeUnit.SECONDS, SynchronousQueue()) { call ->
        Thread(call, "cobo-oauth-call").apply { isDaemon = true }
    }

    suspend fun <T> run(call: () -> T): T = suspendCancellableCoroutine { caller ->
        threads.execute { caller.resumeWith(runCatching(call)) }
    }
}
