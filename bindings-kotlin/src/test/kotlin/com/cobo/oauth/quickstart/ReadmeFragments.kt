package com.cobo.oauth.quickstart

import com.cobo.oauth.CoordinatedTokenStore
import com.cobo.oauth.OAuthClient
import com.cobo.oauth.Refusal
import com.cobo.oauth.Secret
import com.cobo.oauth.TokenManager
import com.cobo.oauth.classifyRefusal
import com.cobo.oauth.coordinatedTokenStore
import com.cobo.oauth.fileTokenStore
import com.cobo.oauth.redisTokenStore

// The README's short fragments, each between its markers word for word, at the left margin
// as the README shows them (ReadmeFragmentsTest checks that, and runs them against the mock).

/** Stands in for the README's own store over a database: here, any CoordinatedTokenStore. */
class MyDatabaseStore(dataSource: CoordinatedTokenStore) : CoordinatedTokenStore by dataSource

/** The "Many processes" fragment: one manager per kind of shared store. */
fun storeChoices(client: OAuthClient, clientId: String, tokenFile: String, redisUrl: String, dataSource: CoordinatedTokenStore): List<TokenManager> {
// many-processes:begin
// One host: every process opens the same file.
val onHost = TokenManager(client, clientId, fileTokenStore(tokenFile))
// Many hosts: one Redis, one key prefix per app (redis:// or rediss://, user and password in the URL).
val onRedis = TokenManager(client, clientId, redisTokenStore(Secret(redisUrl), "myapp:cobo:", 2000UL))
// Your own: loadVersioned, saveIfVersion, delete, acquireLease, extendLease, releaseLease.
val onDatabase = TokenManager(client, clientId, coordinatedTokenStore(MyDatabaseStore(dataSource)))
// many-processes:end
return listOf(onHost, onRedis, onDatabase)
}

/** The "Invalidation" fragment, after a WaaS call answered [status] and [body]; returns the token it sent. */
fun reportRefusal(manager: TokenManager, orgId: String, status: Int, body: ByteArray): Secret {
// invalidate:begin
val token = manager.accessToken(orgId)
// ... the API answered to "Bearer ${token.value}" with a refusal:
if (classifyRefusal(status.toUShort(), body) == Refusal.ACCESS_TOKEN) {
    manager.invalidate(orgId, token) // true if it was still current; the next accessToken renews it
}
// invalidate:end
return token
}
