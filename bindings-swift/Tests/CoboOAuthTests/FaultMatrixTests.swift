// The mock server's fault matrix (tests/faults.json): each fault, injected once, must
// surface as the expected CoboOAuthError case with the expected associated values.

import CoboOAuth
import Foundation
import XCTest

final class FaultMatrixTests: XCTestCase {
    func testEveryFaultOfTheMatrix() throws {
        try runMatrix(async: false)
    }

    /// The same matrix through AsyncOAuthClient's `async throws` calls.
    func testEveryFaultOfTheMatrixThroughAsyncOAuthClient() throws {
        try runMatrix(async: true)
    }

    private func runMatrix(async: Bool) throws {
        let mock = try MockServer.forTest()
        let path = try TestEnvironment.require("COBO_TEST_FAULTS")
        let entries = try XCTUnwrap(
            try TestEnvironment.readJSON(URL(fileURLWithPath: path)) as? [[String: Any]], "faults.json: not a list")
        XCTAssertFalse(entries.isEmpty)
        var seen = Set<String>()
        for entry in entries {
            let name: String = try field(entry, "name")
            XCTAssertTrue(seen.insert(name).inserted, "duplicate entry \(name)")
            try check(entry, name: name, mock: mock, async: async)
        }
    }

    private func check(_ entry: [String: Any], name: String, mock: MockServer, async: Bool) throws {
        try mock.reset()
        let operation: String = try field(entry, "operation")
        let fault = try XCTUnwrap(entry["fault"], "\(name): no fault")
        var expect: [String: Any] = try field(entry, "expect", as: [String: Any].self)
        let variant: String = try field(expect, "variant")
        expect.removeValue(forKey: "variant")
        let config = try Self.config(mock.config(), overrides: entry["client"] as? [String: Any] ?? [:], name)

        let app = try mock.newApp()
        let client = try OAuthClient(key: app.key, config: config)
        let asyncClient = AsyncOAuthClient(client: client)
        let clientId = app.clientId
        let call: () throws -> OrgToken
        switch (operation, async) {
        case ("get", false):
            call = { try client.getOrgToken(clientId: clientId, orgId: "org-1") }
        case ("get", true):
            call = { try awaitBlocking { try await asyncClient.getOrgToken(clientId: clientId, orgId: "org-1") } }
        case ("refresh", false):
            let token = try client.getOrgToken(clientId: clientId, orgId: "org-1")
            call = { try client.refreshOrgToken(clientId: clientId, refreshToken: token.refreshToken) }
        case ("refresh", true):
            let token = try awaitBlocking { try await asyncClient.getOrgToken(clientId: clientId, orgId: "org-1") }
            call = { try awaitBlocking { try await asyncClient.refreshOrgToken(clientId: clientId, refreshToken: token.refreshToken) } }
        default:
            return XCTFail("\(name): unknown operation \(operation)")
        }
        try mock.injectFault(fault, operation: operation, count: 1)

        let started = Date()
        assertCoboError(try call(), name) { error in
            if case .Timeout = error {
                // timeout_ms bounds the whole attempt, a dripping or stalled body included.
                let took = Date().timeIntervalSince(started)
                let limit = Double(config.timeoutMs) / 1000 + Self.timeoutSlack
                XCTAssertLessThan(took, limit, "\(name): Timeout after \(took) s")
            }
            let view = error.udlView
            XCTAssertEqual(view.variant, variant, "\(name): \(error)")
            for (key, expected) in expect {
                guard let actual = view.fields[key] else {
                    return XCTFail("\(name): \(view.variant) has no field \(key)")
                }
                XCTAssertEqual(Self.normalized(actual), Self.normalized(expected), "\(name): \(key)")
            }
        }
        let counters = try mock.counters()
        XCTAssertEqual(counters["faulted"], 1, "\(name): \(counters)")
        if config.maxRetries == 0 {
            XCTAssertEqual(counters[operation], 1, "\(name): \(counters)")
        }
    }

    /// The get is retried after transport errors, 5XX, 429 and 503; the refresh never
    /// once its request may have reached Cobo (a replay could spend the rotated token).
    func testRetriesFollowTheReplayRules() throws {
        let mock = try MockServer.forTest()
        let app = try mock.newApp()
        let client = try OAuthClient(key: app.key, config: mock.config(maxRetries: 2))

        try mock.injectFault(["kind": "server_error"], operation: "get", count: 2)
        XCTAssertEqual(try client.getOrgToken(clientId: app.clientId, orgId: "org-1").tokenType, "Bearer")
        XCTAssertEqual(try mock.counters()["get"], 3)

        try mock.reset()
        try mock.injectFault(["kind": "unsigned", "status": 429], operation: "get", count: 3)
        assertCoboError(try client.getOrgToken(clientId: app.clientId, orgId: "org-1")) {
            XCTAssertEqual($0, .Unavailable(status: 429))
        }
        XCTAssertEqual(try mock.counters()["get"], 3, "one attempt and two retries")

        // 4XX is final: no retry.
        try mock.reset()
        try mock.injectFault(["kind": "oauth_error"], operation: "get", count: 1)
        assertCoboError(try client.getOrgToken(clientId: app.clientId, orgId: "org-1"))
        XCTAssertEqual(try mock.counters()["get"], 1)

        let token = try client.getOrgToken(clientId: app.clientId, orgId: "org-1")
        for fault: [String: Any] in [["kind": "server_error"], ["kind": "drop_connection"]] {
            try mock.reset()
            try mock.injectFault(fault, operation: "refresh", count: 1)
            assertCoboError(try client.refreshOrgToken(clientId: app.clientId, refreshToken: token.refreshToken))
            XCTAssertEqual(try mock.counters()["refresh"], 1, "refresh replayed after \(fault)")
        }
    }

    /// Seconds allowed on top of timeout_ms: generous for a busy machine, and still short
    /// of what a timeout missing a dripping or stalled body would take (its 10 s stall, the
    /// 60 s total timeout).
    private static let timeoutSlack = 5.0

    /// `client` overrides (UDL field names) applied to a base configuration.
    private static func config(_ base: ClientConfig, overrides: [String: Any], _ name: String) throws -> ClientConfig {
        func number<T: FixedWidthInteger>(_ key: String, _ fallback: T) throws -> T {
            guard let value = overrides[key] else { return fallback }
            guard let int = value as? Int, let converted = T(exactly: int) else {
                throw TestSetupError(description: "\(name): client.\(key) is not a valid integer: \(value)")
            }
            return converted
        }
        let known: Set = ["connect_timeout_ms", "timeout_ms", "max_retries", "retry_base_delay_ms",
                          "retry_max_delay_ms", "user_agent", "total_timeout_ms"]
        let unknown = Set(overrides.keys).subtracting(known)
        guard unknown.isEmpty else {
            throw TestSetupError(description: "\(name): unsupported client overrides \(unknown.sorted())")
        }
        return ClientConfig(
            environment: base.environment, baseUrl: base.baseUrl, responsePublicKey: base.responsePublicKey,
            connectTimeoutMs: try number("connect_timeout_ms", base.connectTimeoutMs),
            timeoutMs: try number("timeout_ms", base.timeoutMs),
            userAgent: overrides["user_agent"] as? String ?? base.userAgent,
            maxRetries: try number("max_retries", base.maxRetries),
            retryBaseDelayMs: try number("retry_base_delay_ms", base.retryBaseDelayMs),
            retryMaxDelayMs: try number("retry_max_delay_ms", base.retryMaxDelayMs),
            totalTimeoutMs: try number("total_timeout_ms", base.totalTimeoutMs)
        )
    }

    /// JSON numbers and Swift integers compare as integers; everything else as text.
    private static func normalized(_ value: Any) -> String {
        if let int = value as? Int { return String(int) }
        return String(describing: value)
    }
}
