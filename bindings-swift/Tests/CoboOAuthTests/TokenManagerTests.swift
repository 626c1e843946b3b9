// The TokenManager against the shared mock server, mirroring core/tests/manager.rs: single
// flight per org, orgs independent of each other, stores written in Swift (rotation saved
// before use, failures, restarts), fallbacks to a new grant, withdrawn orgs, the file store.
// Each test registers its own app; the mock's counters and TTL are global, so every test
// resets them and puts the TTL back.

import CoboOAuth
import Foundation
import XCTest

/// A TokenStore written in Swift: a dictionary behind a lock, which can be told to fail
/// and remembers what it was asked.
final class SwiftTokenStore: TokenStore, @unchecked Sendable {
    enum Failure { case none, storeError, otherError }
    struct PlainError: Error {}

    private let lock = NSLock()
    private var tokens: [String: StoredToken] = [:]
    private var failure = Failure.none
    private(set) var saved: [StoredToken] = []
    private(set) var deletes = 0

    func failSaves(_ failure: Failure) { locked { self.failure = failure } }
    var saves: Int { locked { saved.count } }
    var deleteCount: Int { locked { deletes } }

    func load(orgId: String) throws -> StoredToken? {
        locked { tokens[orgId] }
    }

    func save(orgId: String, token: StoredToken) throws {
        try locked {
            switch failure {
            case .storeError: throw CoboOAuthError.Store(reason: "disk full")
            case .otherError: throw PlainError()
            case .none: break
            }
            tokens[orgId] = token
            saved.append(token)
        }
    }

    func delete(orgId: String) throws {
        locked {
            deletes += 1
            tokens[orgId] = nil
        }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

final class TokenManagerTests: XCTestCase {
    private let org = "org-a"
    private let otherOrg = "org-b"
    private let defaultTTL = 43199

    private var mock: MockServer!
    private var app: (key: AppKey, clientId: String)!
    private var client: OAuthClient!

    override func setUpWithError() throws {
        mock = try MockServer.forTest()
        app = try mock.newApp(orgs: [org, otherOrg])
        client = try OAuthClient(key: app.key, config: mock.config(maxRetries: 0))
    }

    override func tearDownWithError() throws {
        try mock?.setAccessTTL(defaultTTL)   // whatever a test did, later tests get normal tokens
        try mock?.reset()
    }

    /// A manager renewing only expired tokens (margin 0), and at once after a failure
    /// (no backoff: RuntimeTests covers it).
    private func makeManager(_ store: TokenStore? = nil) throws -> TokenManager {
        try TokenManager(client: client, clientId: app.clientId, store: store,
                         config: TokenManagerConfig(refreshMarginSecs: 0, backoffInitialMs: 1, backoffMaxMs: 1))
    }

    /// A manager whose cached token for `org` has expired; counters reset.
    private func withExpiredToken(_ store: TokenStore? = nil) throws -> TokenManager {
        try mock.setAccessTTL(1)
        let manager = try makeManager(store)
        _ = try manager.accessToken(orgId: org)
        Thread.sleep(forTimeInterval: 1.1)
        try mock.setAccessTTL(defaultTTL)
        try mock.reset()
        return manager
    }

    private func count(_ name: String) throws -> Int {
        try mock.counters()[name] ?? -1
    }

    func testSixtyFourCallersShareOneRefresh() throws {
        let manager = try withExpiredToken()
        let lock = NSLock()
        var tokens: [Secret] = []
        var errors: [String] = []
        DispatchQueue.concurrentPerform(iterations: 64) { _ in
            let result = Result { try manager.accessToken(orgId: org) }
            lock.lock()
            defer { lock.unlock() }
            switch result {
            case let .success(token): tokens.append(token)
            case let .failure(error): errors.append("\(error)")
            }
        }
        XCTAssertEqual(errors, [])
        XCTAssertEqual(tokens.count, 64)
        XCTAssertEqual(Set(tokens).count, 1, "every caller got the same token")
        XCTAssertEqual(try count("refresh"), 1)
        XCTAssertEqual(try count("get"), 0)
        // Fresh now: served from the cache.
        XCTAssertEqual(try manager.accessToken(orgId: org), tokens.first)
        XCTAssertEqual(try count("total"), 1)
    }

    func testASlowOrgDoesNotHoldUpAnother() throws {
        final class Finished: @unchecked Sendable {
            private let lock = NSLock()
            private var orgs: [String] = []
            var slowError: Error?
            func add(_ org: String) { lock.lock(); orgs.append(org); lock.unlock() }
            var all: [String] { lock.lock(); defer { lock.unlock() }; return orgs }
        }
        let manager = try makeManager()
        // The mock holds org A's grant 5 s: a bound on org B's call, not a speed goal.
        try mock.injectFault(["kind": "delay", "delay_ms": 5000], operation: "get", count: 1)
        let finished = Finished()
        let slowDone = DispatchSemaphore(value: 0)
        let slowOrg = org
        Thread.detachNewThread {
            do { _ = try manager.accessToken(orgId: slowOrg) } catch { finished.slowError = error }
            finished.add(slowOrg)
            slowDone.signal()
        }
        try waitFor("org A's grant to reach the mock") { try self.count("get") == 1 }
        _ = try manager.accessToken(orgId: otherOrg)
        finished.add(otherOrg)
        XCTAssertEqual(try count("issued"), 1, "org B got its token while org A's grant was held")
        XCTAssertEqual(slowDone.wait(timeout: .now() + 30), .success)
        XCTAssertNil(finished.slowError)
        XCTAssertEqual(finished.all, [otherOrg, org])
        XCTAssertEqual(try count("get"), 2)
    }

    func testASwiftStoreHoldsTheRotatedTokenBeforeItIsReturned() throws {
        let store = SwiftTokenStore()
        let manager = try withExpiredToken(store)
        let token = try manager.accessToken(orgId: org)
        XCTAssertEqual(try store.load(orgId: org)?.token.accessToken, token)
        XCTAssertEqual(store.saved.last?.token.accessToken, token)
        XCTAssertEqual(store.saves, 2)   // the first grant, then the rotation
        XCTAssertEqual(try count("refresh"), 1)
        XCTAssertEqual(try count("get"), 0)
    }

    func testAFailingSwiftStoreFailsTheCallAndLosesNothing() throws {
        let store = SwiftTokenStore()
        let manager = try withExpiredToken(store)
        store.failSaves(.storeError)
        assertCoboError(try manager.accessToken(orgId: org)) {
            XCTAssertEqual($0, CoboOAuthError.Store(reason: "disk full"))
        }
        // Still failing: the rotated token is not handed out unsaved, and not renewed again.
        assertCoboError(try manager.accessToken(orgId: org)) {
            XCTAssertEqual($0, CoboOAuthError.Store(reason: "disk full"))
        }
        // Once the store recovers, the token kept in memory is saved and served without
        // another request (the old refresh token is spent).
        store.failSaves(.none)
        let token = try manager.accessToken(orgId: org)
        XCTAssertEqual(try store.load(orgId: org)?.token.accessToken, token)
        XCTAssertEqual(try count("refresh"), 1)
        XCTAssertEqual(try count("get"), 0)
    }

    /// A Swift error that is not a CoboOAuthError also becomes Store.
    func testAnyErrorFromASwiftStoreBecomesStore() throws {
        let store = SwiftTokenStore()
        store.failSaves(.otherError)
        let manager = try makeManager(store)
        assertCoboError(try manager.accessToken(orgId: org)) {
            guard case let .Store(reason) = $0 else { return XCTFail("got \($0)") }
            XCTAssertFalse(reason.isEmpty)
        }
    }

    func testANewManagerContinuesFromTheStore() throws {
        let store = SwiftTokenStore()
        let token = try makeManager(store).accessToken(orgId: org)
        let second = try makeManager(store)
        XCTAssertEqual(try second.accessToken(orgId: org), token)
        XCTAssertNotNil(try second.refreshTokenExpiresAt(orgId: org))
        XCTAssertTrue(try second.invalidate(orgId: org, accessToken: token))
        XCTAssertNotEqual(try second.accessToken(orgId: org), token)
        XCTAssertEqual(try count("get"), 1, "no second org_implicit grant")
        XCTAssertEqual(try count("refresh"), 1)
    }

    func testASpentRefreshTokenFallsBackToOneNewGrant() throws {
        let store = memoryTokenStore()
        let manager = try makeManager(store)
        _ = try manager.accessToken(orgId: org)
        // Someone else spends the refresh token.
        let stored = try XCTUnwrap(try store.load(orgId: org))
        _ = try client.refreshOrgToken(clientId: app.clientId, refreshToken: stored.token.refreshToken)
        try mock.reset()
        XCTAssertTrue(try manager.invalidate(orgId: org, accessToken: stored.token.accessToken))
        let token = try manager.accessToken(orgId: org)
        XCTAssertEqual(try store.load(orgId: org)?.token.accessToken, token)
        XCTAssertEqual(try count("refresh"), 1)
        XCTAssertEqual(try count("get"), 1)
    }

    func testAForgottenOrgLeavesTheCacheAndTheStore() throws {
        let store = SwiftTokenStore()
        let manager = try makeManager(store)
        _ = try manager.accessToken(orgId: org)
        try manager.forget(orgId: org)
        XCTAssertNil(try store.load(orgId: org))
        XCTAssertEqual(store.deleteCount, 1)
        try mock.registerApp(clientId: app.clientId, apiKey: app.key.apiKey(), orgs: [])
        // Nothing cached: the manager asks Cobo again, which refuses the uninstalled org.
        assertCoboError(try manager.accessToken(orgId: org)) {
            guard case .AuthorizationRequired = $0 else { return XCTFail("got \($0)") }
        }
        XCTAssertEqual(try count("get"), 2)
    }

    func testAnOrgThatWithdrewNeedsAuthorizationAgain() throws {
        let store = SwiftTokenStore()
        let manager = try makeManager(store)
        let token = try manager.accessToken(orgId: org)
        try mock.registerApp(clientId: app.clientId, apiKey: app.key.apiKey(), orgs: [])
        XCTAssertTrue(try manager.invalidate(orgId: org, accessToken: token))
        assertCoboError(try manager.accessToken(orgId: org)) {
            guard case let .AuthorizationRequired(orgId, status, error, _) = $0 else {
                return XCTFail("got \($0)")
            }
            XCTAssertEqual(orgId, self.org)
            XCTAssertEqual(status, 403)
            XCTAssertEqual(error, "unauthorized_client")
        }
        XCTAssertEqual(store.deleteCount, 1)
        XCTAssertNil(try store.load(orgId: org))
        XCTAssertNil(try manager.refreshTokenExpiresAt(orgId: org))
    }

    func testTransientFailuresLeaveTheStoredTokensAlone() throws {
        let store = SwiftTokenStore()
        let manager = try withExpiredToken(store)
        let before = try store.load(orgId: org)
        try mock.injectFault(["kind": "server_error", "status": 500, "error_code": 1, "error_message": "x"],
                             operation: "refresh")
        assertCoboError(try manager.accessToken(orgId: org)) {
            guard case .Server(500, _, _, _) = $0 else { return XCTFail("got \($0)") }
        }
        XCTAssertEqual(try store.load(orgId: org), before)
        // The refresh token was not spent: the next call refreshes with it.
        _ = try manager.accessToken(orgId: org)
        XCTAssertEqual(try count("refresh"), 2)
        XCTAssertEqual(try count("get"), 0)
    }

    func testRefreshTokenExpiryIsTrackedAndHonoured() throws {
        let manager = try TokenManager(client: client, clientId: app.clientId,
                                       config: TokenManagerConfig(refreshMarginSecs: 0, refreshTokenLifetimeSecs: 3600))
        XCTAssertNil(try manager.refreshTokenExpiresAt(orgId: org))
        let before = Date()
        _ = try manager.accessToken(orgId: org)
        let lifetime = try XCTUnwrap(try manager.refreshTokenExpiresAt(orgId: org)).timeIntervalSince(before)
        XCTAssertGreaterThanOrEqual(lifetime, 3599.9)
        XCTAssertLessThan(lifetime, 3605)

        // A refresh token past its lifetime is not even tried: a new grant instead.
        let zero = try TokenManager(client: client, clientId: app.clientId,
                                    config: TokenManagerConfig(refreshMarginSecs: 0, refreshTokenLifetimeSecs: 0))
        let token = try zero.accessToken(orgId: otherOrg)
        try mock.reset()
        XCTAssertTrue(try zero.invalidate(orgId: otherOrg, accessToken: token))
        _ = try zero.accessToken(orgId: otherOrg)
        XCTAssertEqual(try count("refresh"), 0)
        XCTAssertEqual(try count("get"), 1)
    }

    func testHeadersMarginsAndArguments() throws {
        let manager = try makeManager()
        let header = try manager.authorizationHeader(orgId: org)
        let token = try manager.accessToken(orgId: org)
        XCTAssertEqual(header.value, "Bearer \(token.value)")
        XCTAssertEqual(try manager.token(orgId: org).token.accessToken, token)
        assertCoboError(try manager.accessToken(orgId: " ")) {
            guard case .InvalidArgument = $0 else { return XCTFail("got \($0)") }
        }
        assertCoboError(try TokenManager(client: client, clientId: "")) {
            guard case .InvalidArgument = $0 else { return XCTFail("got \($0)") }
        }
        // A margin longer than the token's life renews on every call.
        let eager = try TokenManager(client: client, clientId: app.clientId,
                                     config: TokenManagerConfig(refreshMarginSecs: 50_000))
        let first = try eager.accessToken(orgId: otherOrg)
        XCTAssertNotEqual(try eager.accessToken(orgId: otherOrg), first)
    }

    func testFileStoreRoundTripAcrossManagers() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("cobo-oauth-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tokens.json").path

        let token = try makeManager(fileTokenStore(path: path)).accessToken(orgId: org)
        // A directory of records, one per org; beside it its lock and its renewal leases (flock).
        let mode = { (path: String) in
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        }
        XCTAssertEqual(try mode(path), 0o700)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)),
                       ["tokens.json", "tokens.json.lock", "tokens.json.leases"])
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
        XCTAssertEqual(names.map { ($0 as NSString).pathExtension }.sorted(), ["json", "lock"], "no temp file left behind")
        let record = (path as NSString).appendingPathComponent(names.first { $0.hasSuffix(".json") } ?? "")
        XCTAssertEqual(try mode(record), 0o600)

        let restarted = try makeManager(fileTokenStore(path: path))
        XCTAssertEqual(try restarted.accessToken(orgId: org), token)
        XCTAssertEqual(try count("get"), 1)
        XCTAssertEqual(try count("refresh"), 0)

        // A file that does not parse is moved aside for a human and the store starts empty:
        // the org gets a new grant instead of failing for ever.
        try "not json".write(toFile: record, atomically: false, encoding: .utf8)
        let fresh = try makeManager(fileTokenStore(path: path)).accessToken(orgId: org)
        XCTAssertNotEqual(fresh, token)
        XCTAssertEqual(try count("get"), 2)
        let aside = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.contains(".corrupt-") }
        XCTAssertEqual(aside.count, 1, "the unreadable record is kept aside")
        XCTAssertEqual(try String(contentsOfFile: (path as NSString).appendingPathComponent(aside[0]), encoding: .utf8), "not json")
        assertCoboError(try fileTokenStore(path: " ")) {
            guard case .InvalidArgument = $0 else { return XCTFail("got \($0)") }
        }
    }

    /// Tokens at rest: the file store's records hold no part of a token; a StoreKey seals
    /// a token for one org, which opens with that key only (a store of your own uses it).
    func testTokensAtRestAreSealed() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("cobo-oauth-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tokens.json").path
        let stored = try makeManager(fileTokenStore(path: path)).token(orgId: org)
        var raw = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: path) {
            raw.append(try Data(contentsOf: URL(fileURLWithPath: (path as NSString).appendingPathComponent(name))))
        }
        let text = String(decoding: raw, as: UTF8.self)
        for token in [stored.token.accessToken.value, stored.token.refreshToken.value] {
            let chars = Array(token)
            XCTAssertFalse((0...(chars.count - 9)).contains { text.contains(String(chars[$0..<$0 + 9])) },
                           "part of a token is stored in clear text")
        }
        let appStoreKey = StoreKey.fromAppKey(appKey: app.key)
        XCTAssertEqual(try fileTokenStore(path: path, storeKey: appStoreKey).load(orgId: org)?.token.accessToken,
                       stored.token.accessToken)

        let key = try StoreKey.fromBytes(key: Data((0..<32).map { UInt8($0) }))
        let sealed = try key.seal(orgId: org, token: stored)
        XCTAssertEqual(try key.open(orgId: org, sealed: sealed)?.token.refreshToken, stored.token.refreshToken)
        XCTAssertNil(try key.open(orgId: "another-org", sealed: sealed), "sealed for one org only")
        XCTAssertNil(try StoreKey.fromBytes(key: Data(count: 32)).open(orgId: org, sealed: sealed), "another key")
        assertCoboError(try StoreKey.fromBytes(key: Data(count: 31))) {
            guard case .InvalidArgument = $0 else { return XCTFail("got \($0)") }
        }
    }
}
