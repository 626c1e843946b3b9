package com.cobo.oauth.quickstart

// The region between the markers is the README's quickstart, word for word
// (QuickstartTest checks that, and runs it against the mock server).
// quickstart:begin
import com.cobo.oauth.AppKey
import com.cobo.oauth.ClientConfig
import com.cobo.oauth.CoboOAuthException
import com.cobo.oauth.Environment
import com.cobo.oauth.OAuthClient
import com.cobo.oauth.OrgToken
import com.cobo.oauth.Secret

/**
 * Gets an Org Access Token for an organization that installed the app, then refreshes
 * it. Returns the new token, or null when Cobo refuses (for instance when the org has
 * not authorized the app).
 */
fun getAndRefresh(
    privateKeyHex: String, // the app's Ed25519 seed, 64 hex chars, from your secret store
    clientId: String, // from the app's manifest
    orgId: String, // from the install callback
    config: ClientConfig = ClientConfig(environment = Environment.SANDBOX),
): OrgToken? {
    // AppKey.generate() makes a new key; register its apiKey() with Cobo.
    // Objects own native memory: `use` closes them.
    AppKey(Secret(privateKeyHex)).use { key ->
        // One client per app: it keeps a connection pool and is safe to share between threads.
        OAuthClient(key, config).use { client ->
            try {
                val token = client.getOrgToken(clientId, orgId)
                println("got $token") // tokens print as Secret(…)
                // Call WaaS with "Authorization: Bearer ${token.accessToken.value}" and refresh
                // before token.expiresAt. Each refresh spends the old refresh token: store the new one.
                return client.refreshOrgToken(clientId, token.refreshToken)
            } catch (e: CoboOAuthException.OAuth) {
                // 4XX. On refresh, "invalid_grant": the refresh token is spent or expired, and the
                // organization has to authorize the app again.
                println("refused: HTTP ${e.status} ${e.error}: ${e.errorDescription}")
                return null
            } catch (e: CoboOAuthException.Server) {
                println("Cobo failed; quote error id ${e.errorId} to Cobo support")
                throw e
            }
            // Every error is a CoboOAuthException: Unavailable, Transport and Timeout are
            // worth retrying later; InvalidArgument, InvalidResponse, ResponseSignature are not.
        }
    }
}

/**
 * The walkthrough's last step in Kotlin: the same variables as the CLI and the Python
 * quickstart (COBO_ENV, COBO_APP_PRIVATE_KEY, COBO_CLIENT_ID, COBO_ORG_ID, and for a proxy
 * or the mock COBO_BASE_URL with COBO_RESPONSE_PUBLIC_KEY).
 */
fun main() {
    val env = System.getenv()
    val config = ClientConfig(
        environment = Environment.valueOf(env.getOrDefault("COBO_ENV", "sandbox").uppercase()),
        baseUrl = env["COBO_BASE_URL"],
        responsePublicKey = env["COBO_RESPONSE_PUBLIC_KEY"],
    )
    val token = getAndRefresh(env.getValue("COBO_APP_PRIVATE_KEY"), env.getValue("COBO_CLIENT_ID"), env.getValue("COBO_ORG_ID"), config)
    println(if (token != null) "refreshed; expires at ${token.expiresAt}" else "refused")
}
// quickstart:end
