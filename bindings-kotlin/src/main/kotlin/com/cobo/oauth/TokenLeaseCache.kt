package com.cobo.oauth

import java.util.concurrent.ConcurrentHashMap

/**
 * The Kotlin side of [TokenManager.accessToken]: each org's last [TokenLease], served
 * without a call into the core until its `serveUntil`. The core keeps every renewal
 * decision; this cache only remembers its answer. [TokenManager] (accessToken,
 * authorizationHeader, invalidate, destroy) holds one, and [AsyncTokenManager]'s
 * accessToken and authorizationHeader read the one of the TokenManager they wrap.
 *
 * Why: a cached token from the core costs several JNA transitions (tens of µs); a hit
 * here is one map read and one clock read.
 *
 * An `invalidate` racing with a lease in flight must win: each org carries an epoch
 * that `drop` bumps, and a lease is kept only if the epoch it started under is still
 * current (both inside the map's per-key atomic `compute`).
 */
internal class TokenLeaseCache {
    /** Not a data class: its toString must never print the token. */
    private class Entry(val token: Secret?, val serveUntilMillis: Long, val epoch: Long)

    private val entries = ConcurrentHashMap<String, Entry>()

    /** The org's cached token while its lease lasts, else a new one from [lease] (the core's, kept for next time). */
    fun accessToken(orgId: String, lease: (orgId: String) -> TokenLease): Secret {
        val entry = entries[orgId]
        return entry.served() ?: keep(orgId, entry?.epoch ?: 0L, lease(orgId))
    }

    /** The org's cached token while its lease lasts, else null; never calls the core (AsyncTokenManager's fast path). */
    fun cached(orgId: String): Secret? = entries[orgId].served()

    /** The entry's token while its lease lasts, else null. */
    private fun Entry?.served(): Secret? =
        if (this?.token != null && System.currentTimeMillis() < serveUntilMillis) token else null

    /** Keeps [fresh] unless the org was invalidated since [epoch] was read. */
    private fun keep(orgId: String, epoch: Long, fresh: TokenLease): Secret {
        entries.compute(orgId) { _, current ->
            if ((current?.epoch ?: 0L) == epoch) Entry(fresh.accessToken, fresh.serveUntil.toEpochMilli(), epoch) else current
        }
        return fresh.accessToken
    }

    /** Forgets the org's lease; a lease in flight for it will not be kept. */
    fun drop(orgId: String) {
        entries.compute(orgId) { _, current -> Entry(null, 0L, (current?.epoch ?: 0L) + 1) }
    }

    /** Forgets every lease (the manager is being destroyed). */
    fun clear() = entries.clear()

    override fun toString(): String = "TokenLeaseCache(${entries.size} orgs)"
}
