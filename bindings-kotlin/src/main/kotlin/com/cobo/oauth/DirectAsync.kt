package com.cobo.oauth

import com.sun.jna.Callback
import com.sun.jna.CallbackThreadInitializer
import com.sun.jna.Native
import com.sun.jna.Pointer
import java.nio.ByteBuffer
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicLong
import kotlinx.coroutines.CancellableContinuation
import kotlinx.coroutines.suspendCancellableCoroutine

/**
 * [AsyncOAuthClient.getOrgToken] and [AsyncOAuthClient.refreshOrgToken] as one JNA call
 * and one callback (`cobo_oauth_direct_call_v1`, core/src/direct_async.rs). Awaiting the
 * UniFFI future took about nine JNA calls, each allocating its structures by reflection,
 * and two callbacks. The call still runs whole on the core's I/O thread; its outcome
 * arrives serialized as UniFFI serializes it and is read by the generated converters, so
 * tokens and typed errors are the same objects.
 *
 * Anything this path does not take (a surrogate pair, a library without the symbol)
 * returns null, and the generated UniFFI call runs instead. generate-bindings.sh wires it
 * into the generated `AsyncOAuthClient`.
 */
internal object DirectAsync {
    const val GET_ORG_TOKEN = 0
    const val REFRESH_ORG_TOKEN = 1

    fun interface Done : Callback {
        fun invoke(tag: Long, failed: Int, data: Pointer?, len: Int)
    }

    /** The calls in flight, by tag; a cancelled caller's entry is gone, so its outcome goes unheard. */
    private val waiting = ConcurrentHashMap<Long, CancellableContinuation<OrgToken?>>()
    private val tags = AtomicLong()
    private val done = Done(::settle)

    /** False if the loaded library predates this entry point: every call then awaits UniFFI's future. */
    val available: Boolean = registerWithCore(DirectAsync::class.java).also { registered ->
        // Called from the I/O thread: kept attached, as the UniFFI future's callback is.
        if (registered) Native.setCallbackThreadInitializer(done, CallbackThreadInitializer(true, false, "cobo-oauth"))
    }

    external fun cobo_oauth_direct_call_v1(
        client: Long, operation: Int, input: ByteArray, firstLen: Int, secondLen: Int, done: Done, tag: Long,
    ): Int

    /**
     * The token, or null to take the UniFFI path. [withHandle] runs its block with a live
     * AsyncOAuthClient's handle: the core keeps what the call needs once it has started.
     */
    suspend fun call(operation: Int, first: String, second: String, withHandle: ((Long) -> Int) -> Int): OrgToken? {
        if (!available || first.any(Char::isSurrogate) || second.any(Char::isSurrogate)) return null
        val firstBytes = first.toByteArray(Charsets.UTF_8)
        val secondBytes = second.toByteArray(Charsets.UTF_8)
        val input = firstBytes + secondBytes
        secondBytes.fill(0) // a refresh token
        return suspendCancellableCoroutine { continuation ->
            val tag = tags.incrementAndGet()
            waiting[tag] = continuation
            continuation.invokeOnCancellation { waiting.remove(tag) }
            val started = try {
                withHandle { handle -> cobo_oauth_direct_call_v1(handle, operation, input, firstBytes.size, secondBytes.size, done, tag) }
            } catch (e: Throwable) { // a destroyed client
                waiting.remove(tag)
                throw e
            } finally {
                input.fill(0) // the core copied it
            }
            if (started < 0 && waiting.remove(tag) != null) continuation.resumeWith(Result.success(null))
        }
    }

    private fun settle(tag: Long, failed: Int, data: Pointer?, len: Int) {
        val continuation = waiting.remove(tag) ?: return
        val bytes = data?.getByteArray(0, len) ?: ByteArray(0)
        val outcome = runCatching {
            val buffer = ByteBuffer.wrap(bytes)
            if (failed == 0) FfiConverterTypeOrgToken.read(buffer) else throw FfiConverterTypeCoboOAuthError.read(buffer)
        }
        bytes.fill(0)
        continuation.resumeWith(outcome)
    }
}
