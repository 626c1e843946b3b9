package com.cobo.oauth

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import java.util.concurrent.ConcurrentHashMap

/**
 * The Kotlin side of [AsyncTokenManager.accessToken]'s wait: the coroutines that miss the
 * lease cache for one org at the same time share one call into the core (the first one's)
 * instead of each making its own. The core still decides and runs every renewal; this only
 * saves the FFI calls of a future per waiter (tens of µs each through JNA, which add up on
 * a single-threaded dispatcher when a thousand coroutines wait at once).
 *
 * Cancelling a waiter cancels only its own wait: when the coroutine making the call is
 * cancelled, the others retry, and one of them makes the call again (it joins the same
 * renewal in the core, which runs to its end regardless).
 */
internal class TokenWaits {
    /** The first waiter's call was cancelled: the others ask again. */
    private class CallerCancelled : Exception() {
        override fun fillInStackTrace(): Throwable = this
    }

    private val calls = ConcurrentHashMap<String, CompletableDeferred<Secret>>()

    /** [call]'s outcome for [orgId]: the one in flight if there is one, else a new call made by this caller. */
    suspend fun accessToken(orgId: String, call: suspend () -> Secret): Secret {
        while (true) {
            val mine = CompletableDeferred<Secret>()
            val current = calls.putIfAbsent(orgId, mine)
            if (current != null) {
                try {
                    return current.await()
                } catch (e: CallerCancelled) {
                    continue
                }
            }
            try {
                return call().also { mine.complete(it) }
            } catch (e: CancellationException) {
                mine.completeExceptionally(CallerCancelled())
                throw e
            } catch (e: Throwable) {
                mine.completeExceptionally(e)
                throw e
            } finally {
                calls.remove(orgId, mine)
            }
        }
    }

    override fun toString(): String = "TokenWaits(${calls.size} orgs)"
}
