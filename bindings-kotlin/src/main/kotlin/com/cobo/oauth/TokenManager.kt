package com.cobo.oauth

/**
 * Always-valid Org Access Tokens for one app: UniFFI's generated [UniffiTokenManager], whose
 * [accessToken] and [authorizationHeader] serve each org's token from a Kotlin-side cache
 * ([TokenLeaseCache]) until the instant the core's [lease] allows, so a cached token costs a
 * map read and no call into the library. The core still makes every renewal decision.
 */
open class TokenManager @Throws(CoboOAuthException::class) constructor(
    client: OAuthClient,
    clientId: String,
    store: TokenStore? = null,
    config: TokenManagerConfig? = null,
) : UniffiTokenManager(client, clientId, store, config) {
    private val leases = TokenLeaseCache()

    @Throws(CoboOAuthException::class)
    override fun accessToken(orgId: String): Secret = leases.accessToken(orgId, ::lease)

    @Throws(CoboOAuthException::class)
    override fun authorizationHeader(orgId: String): Secret = Secret("Bearer " + accessToken(orgId).value)

    /** As the core's, and drops the org's cached lease (a lease in flight is not kept either). */
    @Throws(CoboOAuthException::class)
    override fun invalidate(orgId: String, accessToken: Secret): Boolean =
        super.invalidate(orgId, accessToken).also { leases.drop(orgId) }

    /** As the core's, and drops the org's cached lease. */
    @Throws(CoboOAuthException::class)
    override fun forget(orgId: String) {
        leases.drop(orgId)
        super.forget(orgId)
        leases.drop(orgId)
    }

    override fun destroy() {
        leases.clear()
        super.destroy()
    }

    /** The org's cached token while its lease lasts, else null; never calls the core ([AsyncTokenManager]'s fast path). */
    internal fun cachedAccessToken(orgId: String): Secret? = leases.cached(orgId)
}
