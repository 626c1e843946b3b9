package com.cobo.oauth.quickstart

// The region between the markers is the README's "Token manager" example, word for word
// (TokenManagerExampleTest checks that, and runs it against the mock server).
// token-manager:begin
import com.cobo.oauth.CoboOAuthException
import com.cobo.oauth.OAuthClient
import com.cobo.oauth.TokenManager
import com.cobo.oauth.TokenStore
import com.cobo.oauth.fileTokenStore

/**
 * Authorization headers for WaaS calls on behalf of the organizations that installed the
 * app. Make one per app and share it between threads: the TokenManager caches each org's
 * token, renews it before it expires (one request per org, however many threads ask) and
 * saves every rotated refresh token in the store before anyone uses the new access token.
 */
class WaasAuth(client: OAuthClient, clientId: String, tokenFile: String) : AutoCloseable {
    // fileTokenStore keeps tokens across restarts (one file per org, mode 0600); memoryTokenStore()
    // does not; or implement TokenStore yourself over a database or a secret manager.
    private val store: TokenStore = fileTokenStore(tokenFile)
    private val manager = TokenManager(client, clientId, store)

    /** "Bearer <token>" for the org, or null when the org has to install the app again. */
    fun authorization(orgId: String): String? =
        try {
            manager.authorizationHeader(orgId).value
        } catch (e: CoboOAuthException.AuthorizationRequired) {
            // Cobo refused both the refresh token and a new grant (e.status, e.error say how);
            // the org's tokens are deleted from the store.
            null
        }
    // Other CoboOAuthExceptions: Store (the store failed; the new token is kept in memory
    // and saved on the next call), and the OAuthClient's Transport, Timeout, Server, ….

    override fun close() {
        manager.close()
        (store as AutoCloseable).close() // the core's stores are AutoCloseable TokenStoreImpls
    }
}
// token-manager:end
