package com.cobo.oauth

/**
 * A [TokenManager]'s token calls as `suspend` functions: UniFFI's generated
 * [UniffiAsyncTokenManager], whose [accessToken] and [authorizationHeader] first serve the
 * manager's cached lease (no call into the library), and on a miss await the core's future
 * (no thread blocked while a renewal runs), one call for all the coroutines missing the same
 * org at once ([TokenWaits]), then record the renewed token's lease through the manager.
 */
open class AsyncTokenManager(private val manager: TokenManager) : UniffiAsyncTokenManager(manager) {
    private val waits = TokenWaits()

    init {
        AsyncCallbackThreads.keepAttached()
    }

    @Throws(CoboOAuthException::class)
    override suspend fun accessToken(orgId: String): Secret {
        manager.cachedAccessToken(orgId)?.let { return it }
        return waits.accessToken(orgId) {
            val renewed = super.accessToken(orgId)
            // Awaited without blocking; the token is fresh now, so its lease (kept for the
            // next call) comes back at once.
            if (manager.uniffiIsDestroyed) renewed else manager.accessToken(orgId)
        }
    }

    @Throws(CoboOAuthException::class)
    override suspend fun authorizationHeader(orgId: String): Secret = Secret("Bearer " + accessToken(orgId).value)
}
