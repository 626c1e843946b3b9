// One "process" of CoordinationTests: a TokenManager on a shared store (a token file or
// a Redis key prefix) whose threads ask for one org's access token again and again for
// a while; prints one JSON line: {"calls": N, "errors": ["…"]}.
//
//   CoordinationWorker BASE_URL RESPONSE_KEY CLIENT_ID ORG_ID STORE THREADS MILLIS
//
// STORE is file:PATH or redis:PREFIX (on $COBO_OAUTH_REDIS_URL); the app's private key is
// in $COBO_TEST_PRIVATE_KEY. Tokens are renewed in the last second of their life, as the
// tests' mock (2 s access tokens) needs.

import CoboOAuth
import Foundation

final class Counts: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var calls = 0
    private(set) var errors: [String] = []

    func add(_ error: Error?) {
        lock.lock()
        defer { lock.unlock() }
        if let error { errors.append(String(describing: error)) } else { calls += 1 }
    }
}

func store(_ spec: String, environment: [String: String]) throws -> TokenStore {
    let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
    switch (parts.first, parts.count) {
    case ("file", 2):
        return try fileTokenStore(path: parts[1])
    case ("redis", 2):
        guard let url = environment["COBO_OAUTH_REDIS_URL"] else {
            throw CoboOAuthError.InvalidArgument(reason: "COBO_OAUTH_REDIS_URL is not set")
        }
        return try redisTokenStore(url: Secret(url), keyPrefix: parts[1], timeoutMs: 2000)
    default:
        throw CoboOAuthError.InvalidArgument(reason: "STORE must be file:PATH or redis:PREFIX, not \(spec)")
    }
}

let arguments = CommandLine.arguments
let environment = ProcessInfo.processInfo.environment
guard arguments.count == 8, let threads = Int(arguments[6]), let millis = Int(arguments[7]),
      let privateKeyHex = environment["COBO_TEST_PRIVATE_KEY"]
else {
    FileHandle.standardError.write(Data("usage: CoordinationWorker BASE_URL RESPONSE_KEY CLIENT_ID ORG_ID STORE THREADS MILLIS\n".utf8))
    exit(2)
}
let (baseURL, responseKey, clientId, orgId, spec) = (arguments[1], arguments[2], arguments[3], arguments[4], arguments[5])

do {
    let client = try OAuthClient(
        key: AppKey(privateKeyHex: Secret(privateKeyHex)),
        config: ClientConfig(baseUrl: baseURL, responsePublicKey: responseKey, maxRetries: 0))
    let manager = try TokenManager(
        client: client, clientId: clientId, store: store(spec, environment: environment),
        config: TokenManagerConfig(refreshMarginSecs: 1, leaseTtlMs: 2000))
    let counts = Counts()
    let until = Date().addingTimeInterval(Double(millis) / 1000)
    let group = DispatchGroup()
    for _ in 0..<threads {
        group.enter()
        Thread {
            while Date() < until {
                do {
                    let token = try manager.accessToken(orgId: orgId)
                    counts.add(token.value.isEmpty ? CoboOAuthError.InvalidResponse(status: 0, reason: "empty token") : nil)
                } catch {
                    counts.add(error)
                }
                Thread.sleep(forTimeInterval: 0.005)
            }
            group.leave()
        }.start()
    }
    group.wait()
    let line = try JSONSerialization.data(withJSONObject: ["calls": counts.calls, "errors": counts.errors])
    print(String(decoding: line, as: UTF8.self))
} catch {
    FileHandle.standardError.write(Data("CoordinationWorker: \(error)\n".utf8))
    exit(3)
}
