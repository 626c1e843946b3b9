// The TokenManager in hostile runtimes, mirroring core/tests/runtime.rs: invalidation by
// token, a valid token served through failures, per-org backoff, and a Swift store that
// throws while callers wait. The mock's counters and TTL are global: every test resets them.

import CoboOAuth
import Foundation
import XCTest

/// Results gathered from several threads.
private final class Gathered<T>: @unchecked Sendable {
    let lock = NSLock()
    var all: [Result<T, Error>] = []
}

/// Runs `body` on `count` threads released at once; the results, in no particular order.
func together<T>(_ count: Int, _ body: @escaping @Sendable () throws -> T) -> [Result<T, Error>] {
    let results = Gathered<T>()
    let start = DispatchSemaphore(value: 0)
    let done = DispatchGroup()
    for _ in 0..<count {
        done.enter()
        Thread.detachNewThread {
            start.wait()
            let result = Result { try body() }
            results.lock.lock()
            results.all.append(result)
            results.lock.unlock()
            done.leave()
        }
    }
    for _ in 0..<count { start.signal() }
    done.wait()
    return results.all
}

/// A Swift store whose save, while failing, waits until `callers` callers have called
/// (so that they wait for the renewal whose save fails) and throws.
final class ThrowingTokenStore: TokenStore, @unchecked Sendable {
    struct DiskGone: Error {}

    let called = Counter()
    private let callers: Int
    private let lock = NSLock()
    private var tokens: [String: StoredToken] = [:]
    private var failing = true

    init(callers: Int) { self.callers = callers }

    func recover() { lock.lock(); failing = false; lock.unlock() }

    func load(orgId: String) throws -> StoredToken? {
        lock.lock(); defer { lock.unlock() }
        return tokens[orgId]
    }

    func save(orgId: String, token: StoredToken) throws {
        lock.lock()
        let fail = failing
        lock.unlock()
        if fail {
            try waitFor("\(callers) callers") { called.value >= callers }
            throw DiskGone()
        }
        lock.lock(); defer { lock.unlock() }
        tokens[orgId] = token
    }

    func delete(orgId: String) throws {
        lock.lock(); defer { lock.unlock() }
        tokens[orgId] = nil
    }
}

final class RuntimeTests: XCTestCase {
    private let org = "org-runtime"
    private let defaultTTL = 43199

    private var mock: MockServer!
    private var app: (key: AppKey, clientId: String)!
    private var client: OAuthClient!

    override func setUpWithError() throws {
        mock = try MockServer.forTest()
        app = try mock.newApp(orgs: [org])
        client = try OAuthClient(key: app.key, config: mock.config(maxRetries: 0))
    }

    override func tearDownWithError() throws {
        try mock?.setAccessTTL(defaultTTL)
        try mock?.reset()
    }

    private func makeManager(marginSecs: UInt64 = 0, backoffMs: UInt64 = 1, store: TokenStore? = nil) throws -> TokenManager {
        try TokenManager(client: client, clientId: app.clientId, store: store,
                         config: TokenManagerConfig(refreshMarginSecs: marginSecs, backoffInitialMs: backoffMs,
                                                    backoffMaxMs: backoffMs))
    }

    /// (refresh, get) requests since the last reset.
    private func counts() throws -> [Int] {
        let counters = try mock.counters()
        return [counters["refresh"] ?? -1, counters["get"] ?? -1]
    }

    func testInvalidateExpiresOnlyTheTokenTheCallerUsed() throws {
        let manager = try makeManager()
        let first = try manager.accessToken(orgId: org)
        XCTAssertTrue(try manager.invalidate(orgId: org, accessToken: first))
        let second = try manager.accessToken(orgId: org)
        XCTAssertNotEqual(second, first)
        try mock.reset()

        // The old token, reported after the renewal: ignored, no request.
        XCTAssertFalse(try manager.invalidate(orgId: org, accessToken: first), "a stale report")
        XCTAssertEqual(try manager.accessToken(orgId: org), second)
        XCTAssertEqual(try counts(), [0, 0])

        // 16 callers saw `second` refused: one renewal between them.
        let org = self.org
        let results = together(16) { () throws -> Secret in
            _ = try manager.invalidate(orgId: org, accessToken: second)
            return try manager.accessToken(orgId: org)
        }
        let tokens = try results.map { try $0.get() }
        XCTAssertEqual(Set(tokens).count, 1, "everyone ends with the one new token")
        XCTAssertNotEqual(tokens.first, second)
        XCTAssertEqual(try counts(), [1, 0], "one refresh, not sixteen")

        assertCoboError(try manager.invalidate(orgId: " ", accessToken: second)) {
            guard case .InvalidArgument = $0 else { return XCTFail("got \($0)") }
        }
    }

    func testAFailedRenewalInsideTheMarginStillServesTheValidToken() throws {
        try mock.setAccessTTL(600)   // every token is inside a 3600 s margin from the start
        let manager = try makeManager(marginSecs: 3600, backoffMs: 60_000)
        let valid = try manager.accessToken(orgId: org)
        try mock.reset()
        try mock.injectFault(["kind": "unsigned", "status": 503], operation: "refresh")
        XCTAssertEqual(try manager.accessToken(orgId: org), valid, "the renewing caller gets the valid token")
        for _ in 0..<20 {
            XCTAssertEqual(try manager.accessToken(orgId: org), valid)
        }
        XCTAssertEqual(try counts(), [1, 0], "one refresh, then the backoff serves the valid token")
    }

    func testAnExpiredTokenGetsTheRecordedErrorWithoutARequestUntilTheBackoffEnds() throws {
        try mock.setAccessTTL(1)
        let manager = try makeManager(backoffMs: 1_000)
        _ = try manager.accessToken(orgId: org)
        try mock.setAccessTTL(defaultTTL)
        Thread.sleep(forTimeInterval: 1.1)
        try mock.reset()
        try mock.injectFault(["kind": "unsigned", "status": 503], operation: "refresh")
        for _ in 0..<50 {
            assertCoboError(try manager.accessToken(orgId: org)) { XCTAssertEqual($0, .Unavailable(status: 503)) }
        }
        XCTAssertEqual(try counts(), [1, 0], "one refresh; 49 callers in the backoff window made no request")
        Thread.sleep(forTimeInterval: 1.05)   // the backoff (500 to 1000 ms, jittered) is over
        _ = try manager.accessToken(orgId: org)
        XCTAssertEqual(try counts(), [2, 0])
    }

    func testOutOfRangeConfigurationsAreRefused() throws {
        for config in [TokenManagerConfig(backoffInitialMs: 0), TokenManagerConfig(backoffMaxMs: 7_200_000),
                       TokenManagerConfig(refreshTokenLifetimeSecs: .max)] {
            assertCoboError(try TokenManager(client: client, clientId: app.clientId, config: config), "\(config)") {
                guard case .InvalidArgument = $0 else { return XCTFail("got \($0)") }
            }
        }
        let config = ClientConfig(baseUrl: mock.baseURL, responsePublicKey: mock.responsePublicKey, totalTimeoutMs: 0)
        assertCoboError(try OAuthClient(key: app.key, config: config)) {
            guard case .InvalidArgument = $0 else { return XCTFail("got \($0)") }
        }
    }

    func testAThrowingSwiftStoreFailsEveryWaiterAndTheOrgRecovers() throws {
        let store = ThrowingTokenStore(callers: 8)
        let manager = try makeManager(store: store)
        let org = self.org
        let results = together(8) { () throws -> Secret in
            store.called.bump()
            return try manager.accessToken(orgId: org)
        }
        XCTAssertEqual(results.count, 8)
        for result in results {
            XCTAssertThrowsError(try result.get()) { error in
                guard case .Store? = error as? CoboOAuthError else { return XCTFail("got \(error)") }
            }
        }
        store.recover()
        let token = try manager.accessToken(orgId: org)
        XCTAssertEqual(try store.load(orgId: org)?.token.accessToken, token, "the token kept in memory is saved")
        XCTAssertEqual(try counts(), [0, 1], "one grant, kept through the failures")
    }
}
