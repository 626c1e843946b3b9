// The README's short fragments, each between its markers word for word, at the left margin
// as the README shows them (ReadmeFragmentTests checks that, and runs them against the mock).

import CoboOAuth
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The "Token manager" fragment: sets the request's header, then reports the token refused.
func tokenManagerFragment(
    client: OAuthClient, clientId: String, orgId: String, tokenFile: String, request: inout URLRequest
) throws -> (TokenManager, Secret) {
// token-manager:begin
let manager = try TokenManager(
    client: client, clientId: clientId,
    store: try fileTokenStore(path: tokenFile),          // default: memoryTokenStore()
    config: TokenManagerConfig(refreshMarginSecs: 300))  // optional
let token = try manager.accessToken(orgId: orgId)
request.setValue("Bearer \(token.value)", forHTTPHeaderField: "Authorization")
// When Cobo refuses it (a 500 that classifyRefusal calls .accessToken), report the
// token you sent, then ask again (URLSession.coboData does this for you):
_ = try manager.invalidate(orgId: orgId, accessToken: token)
// token-manager:end
return (manager, token)
}

/// Stands in for the README's own store over a database: here, the tests' in-memory one.
func MyDatabaseStore(_ pool: MapCoordinatedStore) -> MapCoordinatedStore { pool }

/// The "Many processes" fragment: the three kinds of shared store, and a manager on one.
func manyProcessesFragment(
    client: OAuthClient, clientId: String, tokenFile: String, redisURL: String, pool: MapCoordinatedStore
) throws -> (TokenManager, [TokenStore]) {
// many-processes:begin
// One host: every process opens the same file.
let onHost = try fileTokenStore(path: tokenFile)
// Many hosts: one Redis, one key prefix per app (redis:// or rediss://, user and password in the URL).
let onRedis = try redisTokenStore(url: Secret(redisURL), keyPrefix: "myapp:cobo:", timeoutMs: 2000)
// Your own: loadVersioned, saveIfVersion, delete, acquireLease, extendLease, releaseLease.
let onDatabase = coordinatedTokenStore(store: MyDatabaseStore(pool))
let manager = try TokenManager(client: client, clientId: clientId, store: onRedis)
// many-processes:end
return (manager, [onHost, onRedis, onDatabase])
}

/// The "Logging" fragment: the platform's sink where there is one, else a closure.
func loggingFragment() {
// logging:begin
#if canImport(os)
CoboOAuthLogging.install()                        // Apple platforms: os.Logger
#else
CoboOAuthLogging.install { record in              // anywhere: Linux, swift-log, a file, ...
    FileHandle.standardError.write(Data("cobo_oauth \(record.level) \(record.message)\n".utf8))
}
#endif
// logging:end
}
