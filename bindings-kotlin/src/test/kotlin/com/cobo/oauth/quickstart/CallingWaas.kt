package com.cobo.oauth.quickstart

import com.cobo.oauth.AppKey
import com.cobo.oauth.ClientConfig
import com.cobo.oauth.CoboAuthInterceptor
import com.cobo.oauth.OAuthClient
import com.cobo.oauth.ResponseVerifier
import com.cobo.oauth.TokenManager
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.OkHttpClient
import okhttp3.Request

/**
 * Lists an organization's wallets with OkHttp: the interceptor signs the query OkHttp
 * encodes, adds the org's always-valid token and checks Cobo's signature on the answer.
 * Build the client, manager and OkHttpClient once in an app, and share them.
 */
fun listWallets(
    key: AppKey,
    config: ClientConfig, // ClientConfig(environment = Environment.PROD), …
    verifier: ResponseVerifier, // ResponseVerifier(Environment.PROD), …
    clientId: String,
    orgId: String,
): String {
    OAuthClient(key, config).use { client ->
        TokenManager(client, clientId).use { manager ->
            val http = OkHttpClient.Builder()
                .addInterceptor(CoboAuthInterceptor(key, manager, verifier, orgId))
                .build()
            val url = "${client.baseUrl()}/wallets".toHttpUrl().newBuilder()
                .addQueryParameter("wallet_type", "Custodial")
                .addQueryParameter("limit", "10")
                .build()
            // The manager renews the token before it expires; one revoked behind its back (a 500
            // naming the token) is invalidated and the call sent again, as is one whose nonce
            // Cobo refused (a 401, re-signed). Any other answer comes back as it is.
            http.newCall(Request.Builder().url(url).build()).execute().use { response ->
                check(response.isSuccessful) { "WaaS answered ${response.code}" }
                return response.body?.string().orEmpty()
            }
        }
    }
}
