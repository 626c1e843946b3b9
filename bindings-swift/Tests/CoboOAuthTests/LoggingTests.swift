// The core's log records reach a Swift sink: the events an operator needs, and never a
// token or key. The sink is process-wide, so each test removes it and reads only its org's
// records.

import CoboOAuth
import Foundation
import XCTest

/// Keeps every record it is given.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [LogRecord] = []

    func add(_ record: LogRecord) { lock.lock(); kept.append(record); lock.unlock() }

    var records: [LogRecord] { lock.lock(); defer { lock.unlock() }; return kept }
}

final class LoggingTests: XCTestCase {
    private let org = "org-logging-\(UUID().uuidString.lowercased())"
    private var mock: MockServer!
    private var app: (key: AppKey, clientId: String)!
    private var client: OAuthClient!

    override func setUpWithError() throws {
        mock = try MockServer.forTest()
        app = try mock.newApp(orgs: [org])
        client = try OAuthClient(key: app.key, config: mock.config(maxRetries: 0))
    }

    override func tearDownWithError() throws {
        CoboOAuthLogging.uninstall()
        try mock?.reset()
    }

    private func makeManager() throws -> TokenManager {
        try TokenManager(client: client, clientId: app.clientId,
                         config: TokenManagerConfig(refreshMarginSecs: 0, backoffInitialMs: 1, backoffMaxMs: 1))
    }

    func testRenewalsThatSucceedAndFailAreLoggedWithoutTokensOrKeys() throws {
        let capture = LogCapture()
        CoboOAuthLogging.install { capture.add($0) }
        let manager = try makeManager()
        var seen: [StoredToken] = []
        seen.append(try manager.token(orgId: org))   // org_implicit
        XCTAssertTrue(try manager.invalidate(orgId: org, accessToken: seen[0].token.accessToken))
        seen.append(try manager.token(orgId: org))   // refresh
        XCTAssertTrue(try manager.invalidate(orgId: org, accessToken: seen[1].token.accessToken))
        try mock.injectFault(["kind": "unsigned", "status": 503], operation: "refresh")
        assertCoboError(try manager.token(orgId: org)) { XCTAssertEqual($0, .Unavailable(status: 503)) }

        let ours = capture.records.filter { $0.message.contains("org_id=\(org)") }
        let succeeded = ours.filter { $0.message.hasPrefix("renewal succeeded") }
        XCTAssertEqual(succeeded.map { $0.message.contains("operation=org_implicit") }, [true, false])
        XCTAssertEqual(succeeded.map { $0.message.contains("operation=refresh") }, [false, true])
        for record in succeeded {
            XCTAssertEqual(record.level, .info)
            XCTAssertEqual(record.target, "cobo_oauth")
            XCTAssertTrue(record.message.contains("duration_ms="), record.message)
        }
        let failed = ours.filter { $0.message.hasPrefix("renewal failed") }
        XCTAssertEqual(failed.count, 1, "\(ours)")
        XCTAssertEqual(failed.first?.level, .warn)
        XCTAssertTrue(failed.first?.message.contains("error=unavailable status=503") ?? false, "\(failed)")
        XCTAssertTrue(failed.first?.message.contains("backoff_ms=") ?? false, "\(failed)")

        let secrets = seen.flatMap { [$0.token.accessToken.value, $0.token.refreshToken.value] }
            + [app.key.privateKeyHex().value]
        XCTAssertFalse(capture.records.isEmpty)
        for record in capture.records {
            for secret in secrets {
                XCTAssertFalse(record.message.contains(secret), "a secret shows in: \(record.message)")
                XCTAssertFalse(allRenderings(record).joined().contains(secret))
            }
        }
    }

    func testWithoutASinkNothingIsDelivered() throws {
        let capture = LogCapture()
        CoboOAuthLogging.install { capture.add($0) }
        CoboOAuthLogging.uninstall()
        _ = try makeManager().accessToken(orgId: org)
        XCTAssertEqual(capture.records, [])
    }

    func testAClosureSinkCanBeInstalledDirectly() throws {
        let capture = LogCapture()
        setLogSink(sink: ClosureLogSink { capture.add($0) })
        _ = try makeManager().accessToken(orgId: org)
        XCTAssertTrue(capture.records.contains { $0.message.hasPrefix("renewal succeeded org_id=\(org) ") },
                      "\(capture.records)")
    }
}
