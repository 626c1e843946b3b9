// Many processes renewing one org's token on a shared store (README "Many processes"),
// against the strict mock scripts/test.sh starts (a spent refresh token presented again
// revokes its family; 2 s access tokens) with tokens renewed in their last second: each
// store must keep renewals to one per expiry window, plus one, with no spent refresh
// token presented. The second process is the CoordinationWorker executable.

import CoboOAuth
import Foundation
import XCTest

/// A CoordinatedTokenStore in memory, as a database table would hold it: a versioned
/// record and an expiring lease per org. It counts the core's calls by method.
final class MapCoordinatedStore: CoordinatedTokenStore, @unchecked Sendable {
    private struct Lease {
        let owner: String
        let until: Date
    }

    private let lock = NSLock()
    private var records: [String: VersionedToken] = [:]
    private var leases: [String: Lease] = [:]
    private var calls: [String: Int] = [:]
    private var conflicts = 0

    private func locked<T>(_ method: String, _ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        calls[method, default: 0] += 1
        return try body()
    }

    func calls(_ method: String) -> Int { lock.lock(); defer { lock.unlock() }; return calls[method] ?? 0 }
    var conflictCount: Int { lock.lock(); defer { lock.unlock() }; return conflicts }
    func version(_ orgId: String) -> UInt64 { lock.lock(); defer { lock.unlock() }; return records[orgId]?.version ?? 0 }

    func loadVersioned(orgId: String) throws -> VersionedToken {
        locked("loadVersioned") { records[orgId] ?? VersionedToken(token: nil, version: 0) }
    }

    func saveIfVersion(orgId: String, token: StoredToken, expectedVersion: UInt64) throws -> Bool {
        locked("saveIfVersion") {
            let version = records[orgId]?.version ?? 0
            guard version == expectedVersion else {
                conflicts += 1
                return false
            }
            records[orgId] = VersionedToken(token: token, version: version + 1)
            return true
        }
    }

    func delete(orgId: String) throws {
        locked("delete") { records[orgId] = VersionedToken(token: nil, version: (records[orgId]?.version ?? 0) + 1) }
    }

    func acquireLease(orgId: String, owner: String, ttlMs: UInt64) throws -> Bool {
        locked("acquireLease") {
            if let lease = leases[orgId], lease.owner != owner, lease.until > Date() { return false }
            leases[orgId] = Lease(owner: owner, until: Date().addingTimeInterval(Double(ttlMs) / 1000))
            return true
        }
    }

    func extendLease(orgId: String, owner: String, ttlMs: UInt64) throws -> Bool {
        locked("extendLease") {
            guard let lease = leases[orgId], lease.owner == owner, lease.until > Date() else { return false }
            leases[orgId] = Lease(owner: owner, until: Date().addingTimeInterval(Double(ttlMs) / 1000))
            return true
        }
    }

    func releaseLease(orgId: String, owner: String) throws {
        locked("releaseLease") {
            if leases[orgId]?.owner == owner { leases[orgId] = nil }
        }
    }
}

/// A coordinated store whose lease table is gone: acquireLease throws a Swift error that
/// is not a CoboOAuthError.
final class LeaselessStore: CoordinatedTokenStore, @unchecked Sendable {
    struct LeaseTableGone: Error {}

    private let records = MapCoordinatedStore()

    func loadVersioned(orgId: String) throws -> VersionedToken { try records.loadVersioned(orgId: orgId) }
    func saveIfVersion(orgId: String, token: StoredToken, expectedVersion: UInt64) throws -> Bool {
        try records.saveIfVersion(orgId: orgId, token: token, expectedVersion: expectedVersion)
    }
    func delete(orgId: String) throws { try records.delete(orgId: orgId) }
    func acquireLease(orgId: String, owner: String, ttlMs: UInt64) throws -> Bool { throw LeaseTableGone() }
    func extendLease(orgId: String, owner: String, ttlMs: UInt64) throws -> Bool { false }
    func releaseLease(orgId: String, owner: String) throws {}
}

final class CoordinationTests: XCTestCase {
    private static let accessTTL = 2.0   // the strict mock's --access-ttl
    private static let margin: UInt64 = 1
    private static let threads = 4
    private static let runMillis = 6000

    private var mock: MockServer!
    private var app: (key: AppKey, clientId: String)!
    private let org = "org-" + UUID().uuidString.lowercased()

    override func setUpWithError() throws {
        mock = try MockServer.strictForTest()
        app = try mock.newApp(orgs: [org])
    }

    private func config() -> TokenManagerConfig {
        TokenManagerConfig(refreshMarginSecs: Self.margin, leaseTtlMs: 2000)
    }

    private func makeManager(_ store: TokenStore) throws -> TokenManager {
        try TokenManager(
            client: OAuthClient(key: app.key, config: mock.config(maxRetries: 0)), clientId: app.clientId,
            store: store, config: config())
    }

    func testAChildProcessAndThisOneOnOneTokenFileRenewOncePerExpiryWindow() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coordination-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tokens.json").path
        try runProcesses(spec: "file:\(path)", store: fileTokenStore(path: path))
    }

    func testAChildProcessAndThisOneOnOneRedisPrefixRenewOncePerExpiryWindow() throws {
        let url = try TestEnvironment.require("COBO_OAUTH_REDIS_URL")
        let prefix = "swift-\(UUID().uuidString):"
        try runProcesses(spec: "redis:\(prefix)", store: redisTokenStore(url: Secret(url), keyPrefix: prefix, timeoutMs: 2000))
    }

    func testTwoManagersOnACoordinatedStoreWrittenInSwiftRenewOncePerExpiryWindow() throws {
        let shared = MapCoordinatedStore()
        let started = Date()
        // Two "processes": managers that share nothing but the store.
        let managers = try (0..<2).map { _ in try makeManager(coordinatedTokenStore(store: shared)) }
        let results = Locked<[WorkerCounts]>([])
        let group = DispatchGroup()
        for manager in managers {
            group.enter()
            Thread {
                let counts = runWorker(manager, orgId: self.org, threads: Self.threads * 2, millis: Self.runMillis)
                results.update { $0.append(counts) }
                group.leave()
            }.start()
        }
        group.wait()
        try assertRenewedOncePerWindow(results.value, since: started)
        // The core went through the Swift store's coordination, not around it.
        for method in ["acquireLease", "saveIfVersion", "releaseLease"] {
            XCTAssertGreaterThanOrEqual(shared.calls(method), 2, method)
        }
        XCTAssertEqual(UInt64(shared.calls("saveIfVersion")), shared.version(org) + UInt64(shared.conflictCount),
                       "every save bumped the version or was a reported conflict")
    }

    func testAnErrorThrownByASwiftCoordinatedStoreIsAStoreErrorWithoutAHang() throws {
        let manager = try makeManager(coordinatedTokenStore(store: LeaselessStore()))
        let started = Date()
        assertCoboError(try manager.accessToken(orgId: org)) {
            guard case let .Store(reason) = $0 else { return XCTFail("expected Store, got \($0)") }
            XCTAssertTrue(reason.contains("LeaseTableGone"), reason)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "a bound that catches a hang, not a speed goal")
        XCTAssertEqual(try mock.counters()["issued"], 0, "no token is issued without the lease")
    }

    func testARedisStoreWhereNothingListensIsAStoreErrorInBoundedTime() throws {
        let port = try freeLoopbackPort()
        let manager = try makeManager(redisTokenStore(url: Secret("redis://127.0.0.1:\(port)/"), keyPrefix: "down:", timeoutMs: 500))
        let started = Date()
        assertCoboError(try manager.accessToken(orgId: org)) {
            guard case let .Store(reason) = $0 else { return XCTFail("expected Store, got \($0)") }
            XCTAssertTrue(reason.lowercased().contains("redis"), reason)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "a bound that catches a hang, not a speed goal (timeoutMs 500)")
        XCTAssertEqual(try mock.counters()["issued"], 0, "nothing is issued that could not be stored")
    }

    // MARK: - helpers

    /// One CoordinationWorker process and this process's own worker, each a TokenManager on
    /// the store `spec` names, `threads` threads each.
    private func runProcesses(spec: String, store: TokenStore) throws {
        let started = Date()
        let child = try startCoordinationWorker(
            arguments: [mock.baseURL, mock.responsePublicKey, app.clientId, org, spec, "\(Self.threads)", "\(Self.runMillis)"],
            key: app.key)
        let ours = runWorker(try makeManager(store), orgId: org, threads: Self.threads, millis: Self.runMillis)
        let json = try finishCoordinationWorker(child)
        let theirs = WorkerCounts(calls: try field(json, "calls", as: Int.self), errors: try field(json, "errors", as: [String].self))
        try assertRenewedOncePerWindow([ours, theirs], since: started)
    }

    /// The figures of COORDINATION.md, from the strict mock's counters.
    private func assertRenewedOncePerWindow(_ counts: [WorkerCounts], since started: Date,
                                            file: StaticString = #filePath, line: UInt = #line) throws {
        let windows = Date().timeIntervalSince(started) / (Self.accessTTL - Double(Self.margin))
        let counters = try mock.counters()
        let issued = counters["issued"] ?? -1
        print("\(counts.count) processes, \(counts.map(\.calls).reduce(0, +)) calls, \(issued) renewals in "
              + String(format: "%.1f", windows) + " windows: \(counters)")
        XCTAssertEqual(counts.flatMap(\.errors), [], "errors in a worker", file: file, line: line)
        XCTAssertTrue(counts.allSatisfy { $0.calls > 100 }, "each process kept asking: \(counts.map(\.calls))",
                      file: file, line: line)
        XCTAssertLessThanOrEqual(Double(issued), windows.rounded(.up) + 1, "\(counters)", file: file, line: line)
        XCTAssertGreaterThanOrEqual(issued, 2, "tokens were not renewed: \(counters)", file: file, line: line)
        XCTAssertEqual(counters["spent_refusals"], 0, "\(counters)", file: file, line: line)
        XCTAssertEqual(counters["reuse_detections"], 0, "\(counters)", file: file, line: line)
    }

    private func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw TestSetupError(description: "bind() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct WorkerCounts {
    let calls: Int
    let errors: [String]
}

/// A value behind a lock, for results collected from many threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }

    func update(_ body: (inout Value) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        body(&stored)
    }
}

/// `threads` threads ask `manager` for `orgId`'s token every 5 ms for `millis`, as
/// Sources/CoordinationWorker does in its own process.
func runWorker(_ manager: TokenManager, orgId: String, threads: Int, millis: Int) -> WorkerCounts {
    let counts = Locked(WorkerCounts(calls: 0, errors: []))
    let until = Date().addingTimeInterval(Double(millis) / 1000)
    let group = DispatchGroup()
    for _ in 0..<threads {
        group.enter()
        Thread {
            while Date() < until {
                do {
                    let token = try manager.accessToken(orgId: orgId)
                    let error = token.value.isEmpty ? ["an empty access token"] : []
                    counts.update { $0 = WorkerCounts(calls: $0.calls + 1, errors: $0.errors + error) }
                } catch {
                    counts.update { $0 = WorkerCounts(calls: $0.calls, errors: $0.errors + [String(describing: error)]) }
                }
                Thread.sleep(forTimeInterval: 0.005)
            }
            group.leave()
        }.start()
    }
    group.wait()
    return counts.value
}
