// One "process" of CoordinationTests and of WaasCallTests, in one of two modes; prints
// one JSON line: {"calls": N, "errors": ["…"]}.
//
//   CoordinationWorker BASE_URL RESPONSE_KEY CLIENT_ID ORG_ID STORE THREADS MILLIS
//
// A TokenManager on a shared store (a token file or a Redis key prefix) whose threads ask
// for one org's access token again and again for a while. STORE is file:PATH or
// redis:PREFIX (on $COBO_OAUTH_REDIS_URL). Tokens are renewed in the last second of their
// life, as the tests' mock (2 s access tokens) needs.
//
//   CoordinationWorker waas BASE_URL RESPONSE_KEY CLIENT_ID ORG_ID TASKS MILLIS
//
// TASKS tasks call GET BASE_URL/wallets with URLSession.coboData, each again as soon as
// its last call returned, for MILLIS ms: the app's key signing flat out in this process
// while others sign with it too. "calls" counts the verified 200s; anything else is in
// "errors" (the first 20, and "failures" counts them all).
//
// Either way the app's private key is in $COBO_TEST_PRIVATE_KEY.

import CoboOAuth
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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

/// The "waas" mode's tally.
final class WaasCounts: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var calls = 0
    private(set) var failures = 0
    private(set) var errors: [String] = []

    func add(_ error: String?) {
        lock.lock()
        defer { lock.unlock() }
        if let error {
            failures += 1
            if errors.count < 20 { errors.append(error) }
        } else {
            calls += 1
        }
    }
}

/// `tasks` tasks calling GET /wallets through `coboData` back to back for `millis` ms.
func callWallets(baseURL: String, key: AppKey, manager: TokenManager, orgId: String, verifier: ResponseVerifier,
                 tasks: Int, millis: Int) -> WaasCounts {
    let counts = WaasCounts()
    let until = Date().addingTimeInterval(Double(millis) / 1000)
    let process = ProcessInfo.processInfo.processIdentifier
    let done = DispatchSemaphore(value: 0)
    Task {
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var call = 0
                    while Date() < until {
                        call += 1
                        guard let url = URL(string: "\(baseURL)/wallets?process=\(process)&task=\(task)&call=\(call)") else {
                            counts.add("bad URL from \(baseURL)")
                            return
                        }
                        do {
                            let (data, response) = try await URLSession.shared.coboData(
                                for: URLRequest(url: url), key: key, manager: manager, orgId: orgId, verifier: verifier)
                            counts.add(response.statusCode == 200
                                ? nil : "HTTP \(response.statusCode): \(String(decoding: data.prefix(300), as: UTF8.self))")
                        } catch {
                            counts.add(String(describing: error))
                        }
                    }
                }
            }
        }
        done.signal()
    }
    done.wait()
    return counts
}

/// The first mode: `threads` threads asking `manager` for a token every 5 ms.
func askForTokens(manager: TokenManager, orgId: String, threads: Int, millis: Int) -> Counts {
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
    return counts
}

func printLine(_ object: [String: Any]) throws {
    let line = try JSONSerialization.data(withJSONObject: object)
    print(String(decoding: line, as: UTF8.self))
}

let environment = ProcessInfo.processInfo.environment
let waasMode = CommandLine.arguments.dropFirst().first == "waas"
// BASE_URL RESPONSE_KEY CLIENT_ID ORG_ID [STORE] THREADS|TASKS MILLIS
let positional = Array(CommandLine.arguments.dropFirst(waasMode ? 2 : 1))
guard positional.count == (waasMode ? 6 : 7), let threads = Int(positional[positional.count - 2]),
      let millis = Int(positional[positional.count - 1]), let privateKeyHex = environment["COBO_TEST_PRIVATE_KEY"]
else {
    FileHandle.standardError.write(Data("""
        usage: CoordinationWorker BASE_URL RESPONSE_KEY CLIENT_ID ORG_ID STORE THREADS MILLIS
               CoordinationWorker waas BASE_URL RESPONSE_KEY CLIENT_ID ORG_ID TASKS MILLIS

        """.utf8))
    exit(2)
}
let (baseURL, responseKey, clientId, orgId) = (positional[0], positional[1], positional[2], positional[3])

do {
    let key = try AppKey(privateKeyHex: Secret(privateKeyHex))
    let client = try OAuthClient(key: key, config: ClientConfig(baseUrl: baseURL, responsePublicKey: responseKey, maxRetries: 0))
    if waasMode {
        let manager = try TokenManager(client: client, clientId: clientId)
        let counts = callWallets(baseURL: baseURL, key: key, manager: manager, orgId: orgId,
                                 verifier: try ResponseVerifier.withKey(publicKeyHex: responseKey), tasks: threads, millis: millis)
        try printLine(["calls": counts.calls, "failures": counts.failures, "errors": counts.errors])
    } else {
        let manager = try TokenManager(
            client: client, clientId: clientId, store: store(positional[4], environment: environment),
            config: TokenManagerConfig(refreshMarginSecs: 1, leaseTtlMs: 2000))
        let counts = askForTokens(manager: manager, orgId: orgId, threads: threads, millis: millis)
        try printLine(["calls": counts.calls, "errors": counts.errors])
    }
} catch {
    FileHandle.standardError.write(Data("CoordinationWorker: \(error)\n".utf8))
    exit(3)
}
