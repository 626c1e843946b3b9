package com.cobo.oauth.quickstart

// The region between the markers is the README's "Coroutines" example, word for word
// (AsyncExampleTest checks that, and runs it against the mock server).
// async:begin
import com.cobo.oauth.AsyncTokenManager
import com.cobo.oauth.OAuthClient
import com.cobo.oauth.TokenManager
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.runBlocking

/**
 * "Bearer <token>" for each org, fetched concurrently. A coroutine whose org is being
 * renewed suspends: no thread is blocked, and the callers of one org share one request.
 */
suspend fun authorizationHeaders(tokens: AsyncTokenManager, orgIds: List<String>): Map<String, String> =
    coroutineScope {
        orgIds.map { orgId -> async { orgId to tokens.authorizationHeader(orgId).value } }.awaitAll().toMap()
    }

fun headersForOrgs(client: OAuthClient, clientId: String, orgIds: List<String>): Map<String, String> =
    // One TokenManager per app; AsyncTokenManager shares its cache and its renewals
    // with the blocking calls (manager.authorizationHeader(orgId)) made elsewhere.
    TokenManager(client, clientId).use { manager ->
        AsyncTokenManager(manager).use { tokens ->
            runBlocking { authorizationHeaders(tokens, orgIds) }
        }
    }
// async:end
