// A refresh token is presented once, whatever fails (FENCING.md): a lease lost while its
// holder's refresh is in flight (the lease file or key deleted, as cli/tests/coordination.rs
// `deleted_lease` does), a save that fails after Cobo rotated the token, a renewal that
// never saves. Against the strict mock (a spent refresh token presented again revokes its
// family), the figures are the mock's counters: no spent refresh token is ever presented.

import CoboOAuth
import Foundation
import XCTest

/// A CoordinatedTokenStore written in Swift over a MapCoordinatedStore (CoordinationTests)
/// whose saves numbered in `failing` (from 1) throw, writing nothing. It keeps what each save
/// was given of `refreshInFlight`, failed saves included; with `dropsMark` it stores every
/// token unmarked (a store that forgets the field: the control that shows what it is for).
final class FlakyCoordinatedStore: CoordinatedTokenStore, @unchecked Sendable {
    private let inner: MapCoordinatedStore
    private let failing: Range<Int>
    private let dropsMark: Bool
    private let state = Locked<(saves: Int, failed: Int, marks: [Bool], healed: Bool)>((0, 0, [], false))

    init(_ inner: MapCoordinatedStore, failing: Range<Int>, dropsMark: Bool = false) {
        self.inner = inner
        self.failing = failing
        self.dropsMark = dropsMark
    }

    /// `refreshInFlight` of every token passed to `saveIfVersion`, in order.
    var marks: [Bool] { state.value.marks }
    var failed: Int { state.value.failed }
    /// From now on every save goes through.
    func heal() { state.update { $0.healed = true } }

    func loadVersioned(orgId: String) throws -> VersionedToken { try inner.loadVersioned(orgId: orgId) }

    func saveIfVersion(orgId: String, token: StoredToken, expectedVersion: UInt64) throws -> Bool {
        var fail = false
        state.update {
            $0.saves += 1
            $0.marks.append(token.refreshInFlight)
            fail = !$0.healed && failing.contains($0.saves)
            if fail { $0.failed += 1 }
        }
        if fail { throw CoboOAuthError.Store(reason: "connection reset") }
        let kept = dropsMark ? StoredToken(token: token.token, refreshExpiresAt: token.refreshExpiresAt) : token
        return try inner.saveIfVersion(orgId: orgId, token: kept, expectedVersion: expectedVersion)
    }

    func delete(orgId: String) throws { try inner.delete(orgId: orgId) }
    func acquireLease(orgId: String, owner: String, ttlMs: UInt64) throws -> Bool {
        try inner.acquireLease(orgId: orgId, owner: owner, ttlMs: ttlMs)
    }
    func extendLease(orgId: String, owner: String, ttlMs: UInt64) throws -> Bool {
        try inner.extendLease(orgId: orgId, owner: owner, ttlMs: ttlMs)
    }
    func releaseLease(orgId: String, owner: String) throws { try inner.releaseLease(orgId: orgId, owner: owner) }
}

final class FencingTests: XCTestCase {
    /// The strict mock's --access-ttl, put back after each test (CoordinationTests need it).
    private static let strictAccessTTL = 2

    private var mock: MockServer!
    private var app: (key: AppKey, clientId: String)!
    private let org = "org-" + UUID().uuidString.lowercased()

    override func setUpWithError() throws {
        mock = try MockServer.strictForTest()
        // Tokens that outlive the test: every renewal here is one the test asks for.
        try mock.setAccessTTL(3600)
        app = try mock.newApp(orgs: [org])
    }

    override func tearDownWithError() throws {
        try mock?.setAccessTTL(Self.strictAccessTTL)
        try mock?.reset()
    }

    /// One "process": a manager with its own client, renewing only expired (or invalidated)
    /// tokens, at once after a failure. `totalTimeoutMs` is also how long a failed save is retried.
    private func makeManager(_ store: TokenStore, totalTimeoutMs: UInt64 = 60000) throws -> TokenManager {
        let config = ClientConfig(
            environment: .prod, baseUrl: mock.baseURL, responsePublicKey: mock.responsePublicKey,
            maxRetries: 0, totalTimeoutMs: totalTimeoutMs)
        return try TokenManager(
            client: OAuthClient(key: app.key, config: config), clientId: app.clientId, store: store,
            config: TokenManagerConfig(refreshMarginSecs: 0, backoffInitialMs: 1, backoffMaxMs: 1, leaseTtlMs: 1000))
    }

    /// Renews `manager`'s token now, as a refused token makes a hook do; returns the new one.
    @discardableResult
    private func renew(_ manager: TokenManager, file: StaticString = #filePath, line: UInt = #line) throws -> Secret {
        let token = try manager.accessToken(orgId: org)
        XCTAssertTrue(try manager.invalidate(orgId: org, accessToken: token), file: file, line: line)
        let renewed = try manager.accessToken(orgId: org)
        XCTAssertNotEqual(renewed, token, file: file, line: line)
        return renewed
    }

    /// The mock's counters, printed, with no spent refresh token presented.
    @discardableResult
    private func assertNoSpentTokenPresented(_ what: String, file: StaticString = #filePath, line: UInt = #line)
        throws -> [String: Int]
    {
        let counters = try mock.counters()
        print("\(what): \(counters)")
        XCTAssertEqual(counters["spent_refusals"], 0, "\(counters)", file: file, line: line)
        XCTAssertEqual(counters["reuse_detections"], 0, "\(counters)", file: file, line: line)
        return counters
    }

    // MARK: - a lease lost mid-refresh

    func testALeaseFileDeletedMidRefreshLetsNoSpentTokenBePresented() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fencing-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tokens.json").path
        let leases = path + ".leases"
        try deletedLease(
            store: { try fileTokenStore(path: path) },
            deleteLease: {
                let files = try FileManager.default.contentsOfDirectory(atPath: leases)
                XCTAssertEqual(files.count, 1, "A holds the only lease: \(files)")
                for name in files { try FileManager.default.removeItem(atPath: leases + "/" + name) }
            },
            version: {
                // The store is a directory with one record file per org; this test has one org.
                let records = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".json") }
                XCTAssertEqual(records.count, 1, "one org, one record: \(records)")
                let record = URL(fileURLWithPath: path).appendingPathComponent(try XCTUnwrap(records.first))
                let entry = try XCTUnwrap(try TestEnvironment.readJSON(record) as? [String: Any])
                return try field(entry, "version", as: Int.self)
            })
    }

    func testARedisLeaseKeyDeletedMidRefreshLetsNoSpentTokenBePresented() throws {
        let url = try TestEnvironment.require("COBO_OAUTH_REDIS_URL")
        let redis = try RawRedis(url: url)
        let prefix = "swift-fencing-\(UUID().uuidString):"
        try deletedLease(
            store: { try redisTokenStore(url: Secret(url), keyPrefix: prefix, timeoutMs: 2000) },
            deleteLease: {
                XCTAssertEqual(try redis.command(["DEL", "\(prefix)lease:\(self.org)"]), "1", "A held the lease")
            },
            version: {
                let reply = try XCTUnwrap(try redis.command(["HGET", "\(prefix)token:\(self.org)", "version"]))
                return try XCTUnwrap(Int(reply), "version \(reply)")
            })
    }

    /// Two "processes" (managers on store instances of their own) on one record. A's refresh
    /// is slow; meanwhile its lease is deleted and B takes the lease. B finds A's refresh token
    /// marked in flight, never presents it, and saves a new grant. A's late save is refused by
    /// the version check, and A adopts B's token.
    private func deletedLease(store: () throws -> TokenStore, deleteLease: @escaping () throws -> Void,
                              version: @escaping () throws -> Int) throws {
        let storeOfB = try store() // given to B's manager: it seals with the app's key
        let (a, b) = (try makeManager(store()), try makeManager(storeOfB))
        let first = try a.accessToken(orgId: org)
        XCTAssertEqual(try b.accessToken(orgId: org), first)
        let before = try version()
        XCTAssertTrue(try a.invalidate(orgId: org, accessToken: first))
        XCTAssertTrue(try b.invalidate(orgId: org, accessToken: first))
        try mock.injectFault(["kind": "delay", "delay_ms": 1500], operation: "refresh")

        let ours = Locked<Result<Secret, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let orgId = org
        Thread {
            let result = Result { try a.accessToken(orgId: orgId) }
            ours.update { $0 = result }
            done.signal()
        }.start()
        try waitFor("A's refresh") { try self.mock.counters()["refresh"] == 1 }
        XCTAssertEqual(try version(), before + 1, "A marked its refresh token in flight")
        let marked = try XCTUnwrap(try storeOfB.load(orgId: org))
        XCTAssertTrue(marked.refreshInFlight, "the store reads the mark back")
        try deleteLease()

        let theirs = try b.accessToken(orgId: org)
        XCTAssertEqual(try version(), before + 2, "B saved once")
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "A's renewal ended")
        let result = try XCTUnwrap(ours.value)
        XCTAssertEqual(try result.get(), theirs, "A adopted B's token instead of saving its own")
        XCTAssertEqual(try a.accessToken(orgId: org), theirs)
        XCTAssertEqual(try version(), before + 2, "A's late save was refused; the version never went back")
        XCTAssertFalse(try XCTUnwrap(try storeOfB.load(orgId: org)).refreshInFlight, "B's grant cleared the mark")

        let counters = try assertNoSpentTokenPresented("lease deleted mid-refresh")
        XCTAssertEqual(counters["refresh"], 1, "only A presented the refresh token: \(counters)")
        XCTAssertEqual(counters["get"], 2, "the first grant, then B's new grant: \(counters)")
        XCTAssertEqual(counters["issued"], 3, "\(counters)")
    }

    // MARK: - a save that fails after Cobo rotated the token

    /// A's save after the refresh fails once: A saves again under its lease, so B finds the
    /// rotated refresh token, never the spent one. The Swift store keeps `refreshInFlight`.
    func testASaveFailingOnceAfterRotationLeavesNoSpentTokenToPresent() throws {
        let records = MapCoordinatedStore()
        // Save 1: the first grant; 2: the refresh token marked in flight; 3: after the refresh, fails.
        let flaky = FlakyCoordinatedStore(records, failing: 3..<4)
        let plain = FlakyCoordinatedStore(records, failing: 0..<0)
        let a = try makeManager(coordinatedTokenStore(store: flaky))
        let b = try makeManager(coordinatedTokenStore(store: plain))
        let ours = try renew(a)
        XCTAssertEqual(flaky.failed, 1, "the save after the refresh failed")
        XCTAssertEqual(flaky.marks, [false, true, false, false], "the grant, the mark, the failed save, the save again")
        XCTAssertEqual(try records.loadVersioned(orgId: org).token?.token.accessToken, ours, "A saved its token again")
        XCTAssertEqual(try records.loadVersioned(orgId: org).token?.refreshInFlight, false)

        // B, another process, renews from the store; then A adopts B's token.
        let theirs = try renew(b)
        XCTAssertEqual(plain.marks, [true, false], "B marked the rotated refresh token, then saved")
        XCTAssertEqual(try renew(a), theirs, "A adopted B's token")
        let counters = try assertNoSpentTokenPresented("a save failing once after rotation")
        XCTAssertEqual(counters["get"], 1, "\(counters)")
        XCTAssertEqual(counters["refresh"], 2, "A's refresh, then B's with A's rotated token: \(counters)")
    }

    /// A's saves fail from the refresh on, until its deadline: the store keeps the spent
    /// refresh token, marked in flight by the Swift store, and B asks for a new grant instead
    /// of presenting it. A, asked again, finds B's token saved.
    func testARenewalThatNeverSavesLeavesTheMarkAndTheOtherManagerAsksForANewGrant() throws {
        let records = MapCoordinatedStore()
        let dying = FlakyCoordinatedStore(records, failing: 3..<Int.max)
        let a = try makeManager(coordinatedTokenStore(store: dying), totalTimeoutMs: 2000)
        let b = try makeManager(coordinatedTokenStore(store: records))
        let first = try a.accessToken(orgId: org)
        XCTAssertEqual(try b.accessToken(orgId: org), first)
        XCTAssertTrue(try a.invalidate(orgId: org, accessToken: first))
        assertCoboError(try a.accessToken(orgId: org)) {
            guard case .Store = $0 else { return XCTFail("expected Store, got \($0)") }
        }
        XCTAssertGreaterThanOrEqual(dying.failed, 1)
        XCTAssertEqual(Array(dying.marks.prefix(2)), [false, true], "the grant, then the mark")
        let stored = try XCTUnwrap(try records.loadVersioned(orgId: org).token)
        XCTAssertEqual(stored.token.accessToken, first, "the store still holds the spent refresh token")
        XCTAssertTrue(stored.refreshInFlight, "the spent refresh token is marked")
        XCTAssertEqual(try mock.counters()["refresh"], 1)

        let theirs = try renew(b)
        XCTAssertEqual(try records.loadVersioned(orgId: org).token?.refreshInFlight, false, "B's grant cleared the mark")
        let counters = try assertNoSpentTokenPresented("a renewal that never saves")
        XCTAssertEqual(counters["refresh"], 1, "the spent refresh token was not presented again: \(counters)")
        XCTAssertEqual(counters["get"], 2, "the first grant, then B's new grant: \(counters)")

        // A still holds its rotated token unsaved. The store, working again, has moved on
        // past it: A's save loses (A serves its own token this once), B's record stays,
        // and A's next call loads B's token.
        dying.heal()
        let version = records.version(org)
        _ = try a.accessToken(orgId: org)
        XCTAssertEqual(records.version(org), version, "A's late save was refused")
        XCTAssertEqual(try records.loadVersioned(orgId: org).token?.token.accessToken, theirs)
        XCTAssertEqual(try a.accessToken(orgId: org), theirs, "A adopted B's token")
        let after = try assertNoSpentTokenPresented("then A again")
        XCTAssertEqual(after["total"], counters["total"], "A sent nothing more: \(after)")
    }

    /// The control: the same renewal that never saves, on a Swift store that drops
    /// `refreshInFlight`. B then presents the refresh token A spent, and the strict mock
    /// revokes its family; the counters above would catch a core that lost the mark.
    func testAStoreThatDropsTheMarkLetsTheSpentTokenBePresentedAgain() throws {
        let records = MapCoordinatedStore()
        let dying = FlakyCoordinatedStore(records, failing: 3..<Int.max, dropsMark: true)
        let a = try makeManager(coordinatedTokenStore(store: dying), totalTimeoutMs: 2000)
        let b = try makeManager(coordinatedTokenStore(store: records))
        let first = try a.accessToken(orgId: org)
        XCTAssertEqual(try b.accessToken(orgId: org), first)
        XCTAssertTrue(try a.invalidate(orgId: org, accessToken: first))
        assertCoboError(try a.accessToken(orgId: org))
        XCTAssertEqual(try records.loadVersioned(orgId: org).token?.refreshInFlight, false, "the mark was dropped")

        try renew(b)   // presents the spent refresh token, is refused, falls back to a new grant
        let counters = try mock.counters()
        print("a store that drops the mark: \(counters)")
        XCTAssertEqual(counters["refresh"], 2, "A's refresh, then B's with the same token: \(counters)")
        XCTAssertEqual(counters["spent_refusals"], 1, "\(counters)")
        XCTAssertEqual(counters["reuse_detections"], 1, "\(counters)")
    }
}

/// Just enough of the Redis protocol for a test to delete a key or read a hash field
/// behind the store's back (the chroot has no redis-cli). One connection per command.
struct RawRedis {
    let host: String
    let port: UInt16

    init(url: String) throws {
        guard let parts = URLComponents(string: url), let host = parts.host, let port = parts.port else {
            throw TestSetupError(description: "not a redis://host:port URL")
        }
        self.host = host
        self.port = UInt16(port)
    }

    /// Sends one command; returns an integer or bulk reply as text, nil for a null bulk.
    func command(_ arguments: [String]) throws -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { throw TestSetupError(description: "cannot connect to redis at \(host):\(port)") }
        var request = "*\(arguments.count)\r\n"
        for argument in arguments { request += "$\(argument.utf8.count)\r\n\(argument)\r\n" }
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { throw TestSetupError(description: "send failed") }
        var reply = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let parsed = try Self.parse(reply) { return parsed.value }
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { throw TestSetupError(description: "redis closed the connection") }
            reply += buffer[0..<n]
        }
    }

    private struct Reply {
        let value: String?
    }

    /// The reply if `bytes` holds a whole one, else nil.
    private static func parse(_ bytes: [UInt8]) throws -> Reply? {
        guard let end = bytes.firstIndex(of: UInt8(ascii: "\n")), end > 0 else { return nil }
        let line = String(decoding: bytes[1..<(end - 1)], as: UTF8.self)
        switch bytes[0] {
        case UInt8(ascii: ":"), UInt8(ascii: "+"):
            return Reply(value: line)
        case UInt8(ascii: "-"):
            throw TestSetupError(description: "redis: \(line)")
        case UInt8(ascii: "$"):
            guard let length = Int(line) else { throw TestSetupError(description: "bad bulk length \(line)") }
            if length < 0 { return Reply(value: nil) }
            guard bytes.count >= end + 1 + length + 2 else { return nil }
            return Reply(value: String(decoding: bytes[(end + 1)..<(end + 1 + length)], as: UTF8.self))
        default:
            throw TestSetupError(description: "unexpected redis reply \(line)")
        }
    }
}
