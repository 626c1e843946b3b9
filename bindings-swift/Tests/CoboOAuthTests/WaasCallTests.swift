// Every WaaS call gets through: URLSession.coboData resends what Cobo refused before
// acting on it (classifyRefusal) and nothing else, against the mock's protected endpoint
// (/v2/wallets) and, for answers only a fault can produce, its token endpoint. Each test
// asserts on the mock's counters: what was sent, refused, accepted, and issued.

import CoboOAuth
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

final class WaasCallTests: XCTestCase {
    private var mock: MockServer!
    private var key: AppKey!
    private var clientId = ""
    private let org = "org-" + UUID().uuidString.lowercased()
    private var manager: TokenManager!
    private var verifier: ResponseVerifier!
    /// Set while the mock's clock is moved: tearDown moves it back and relearns it.
    private var skewed = false

    override func setUpWithError() throws {
        mock = try MockServer.forTest()
        let app = try mock.newApp(orgs: [org])
        key = app.key
        clientId = app.clientId
        let client = try OAuthClient(key: key, config: mock.config(maxRetries: 0))
        manager = try TokenManager(client: client, clientId: clientId, store: nil,
                                   config: TokenManagerConfig(refreshMarginSecs: 0))
        verifier = try ResponseVerifier.withKey(publicKeyHex: mock.responsePublicKey)
    }

    override func tearDownWithError() throws {
        guard skewed else { return }
        skewed = false
        try mock.setClockOffset(ms: 0)
        // The host's clock offset is shared by every test (and process) here: one verified
        // answer puts it back on the mock's clock.
        let (key, manager, org, verifier) = (key!, manager!, org, verifier!)
        let request = try wallets("relearn")
        let status = try awaitBlocking {
            try await URLSession.shared.coboData(for: request, key: key, manager: manager, orgId: org, verifier: verifier)
                .1.statusCode
        }
        XCTAssertEqual(status, 200)
    }

    // MARK: - requests and counters

    private func wallets(_ tag: String) throws -> URLRequest {
        URLRequest(url: try XCTUnwrap(URL(string: mock.baseURL + "/wallets?call=\(tag)")))
    }

    /// A GET of the token endpoint: the only place where the mock answers with a queued
    /// fault, so the way to meet a generic 500 or a coded refusal on demand.
    private func tokenEndpoint() throws -> URLRequest {
        URLRequest(url: try XCTUnwrap(URL(string: mock.baseURL
            + "/oauth/token?client_id=\(clientId)&org_id=\(org)&grant_type=org_implicit")))
    }

    private func call(_ request: URLRequest) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.coboData(
            for: request, key: key, manager: manager, orgId: org, verifier: verifier)
        return (response.statusCode, String(decoding: data, as: UTF8.self))
    }

    /// The named counters, in order (-1 for one the mock lacks).
    private func counts(_ names: String...) throws -> [Int] {
        let counters = try mock.counters()
        return names.map { counters[$0] ?? -1 }
    }

    /// The manager holds a token, then the counters restart: what follows is the test's.
    private func warmUp() async throws {
        let first = try await call(try wallets("warm-up"))
        XCTAssertEqual(first.status, 200, first.body)
        try mock.reset()
    }

    // MARK: - the classifier

    func testTheClassifierAnswersByStatusAndErrorCodeOnly() throws {
        func body(_ object: [String: Any]) throws -> Data { try JSONSerialization.data(withJSONObject: object) }
        for code in [2024, 2041, 2042] {
            XCTAssertEqual(classifyRefusal(status: 401, body: try body(["error": "invalid_client", "error_code": code])),
                           .coboAuth, "\(code)")
            XCTAssertNil(classifyRefusal(status: 400, body: try body(["error_code": code])), "\(code) on a 400")
        }
        XCTAssertEqual(classifyRefusal(status: 500, body: try body(["error_code": 2040, "error_message": "m"])), .accessToken)
        XCTAssertNil(classifyRefusal(status: 500, body: try body(["error_code": 1000, "error_message": "token expired"])))
        XCTAssertNil(classifyRefusal(status: 401, body: try body(["error": "invalid_client", "error_description": "nonce"])))
        XCTAssertNil(classifyRefusal(status: 500, body: Data("<html>".utf8)))
        XCTAssertNil(classifyRefusal(status: 401, body: Data([0xff, 0x00])))

        // HTTPURLResponse.coboRefusal asks the classifier for a 401 or a 500 only.
        let url = try XCTUnwrap(URL(string: mock.baseURL + "/wallets"))
        let coded = try body(["error_code": 2041])
        for (status, expected) in [(401, Refusal.coboAuth), (200, nil), (403, nil), (429, nil)] as [(Int, Refusal?)] {
            let response = try XCTUnwrap(HTTPURLResponse(url: url, statusCode: status, httpVersion: nil, headerFields: [:]))
            XCTAssertEqual(response.coboRefusal(data: coded), expected, "\(status)")
        }
    }

    // MARK: - refused access tokens

    func testARevokedFamilyCostsOneRefusedCallAndAtMostTwoRenewals() async throws {
        try await warmUp()
        try mock.revoke(orgId: org)
        let answer = try await call(try wallets("after-revoke"))
        XCTAssertEqual(answer.status, 200, answer.body)
        let (issued, accepted, refused) = try counted()
        print("revoked family: \(issued) renewal(s), \(accepted) accepted, \(refused) refused")
        XCTAssertGreaterThanOrEqual(issued, 1, "the revoked token was replaced")
        XCTAssertLessThanOrEqual(issued, 2, "a refresh, or a new grant after the refused refresh")
        XCTAssertEqual([accepted, refused], [1, 1], "sent with the revoked token, then once with the new one")

        // An expired (not revoked) token: one refresh.
        try mock.reset()
        try mock.revoke(orgId: org, expireOnly: true)
        let again = try await call(try wallets("after-expiry"))
        XCTAssertEqual(again.status, 200, again.body)
        XCTAssertEqual(try counts("issued", "protected_accepted", "protected_refused", "refresh"), [1, 1, 1, 1])
    }

    func testAHundredConcurrentCallersOfARevokedFamilyCauseOneRenewal() async throws {
        try await warmUp()
        try mock.revoke(orgId: org)
        let statuses = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for caller in 0..<100 {
                group.addTask { try await self.call(try self.wallets("caller-\(caller)")) }
            }
            var all: [(Int, String)] = []
            while let answer = try await group.next() { all.append(answer) }
            return all
        }
        let (issued, accepted, refused) = try counted()
        print("100 concurrent callers after a revocation: \(issued) renewal(s), \(accepted) accepted, "
              + "\(refused) refused (each refused call resent once)")
        XCTAssertEqual(statuses.count, 100)
        XCTAssertEqual(statuses.filter { $0.0 != 200 }.map { "\($0.0) \($0.1)" }, [], "failed callers")
        XCTAssertEqual(issued, 1, "one renewal for all callers")
        XCTAssertEqual(accepted, 100)
        XCTAssertGreaterThanOrEqual(refused, 1)
        XCTAssertLessThanOrEqual(refused, 100, "no call was refused twice")
    }

    func testAnAccessTokenRefusalIsResentOnceWithTheRenewedToken() async throws {
        try await warmUp()
        try mock.injectFault(["kind": "server_error", "status": 500, "error_code": 2040], operation: "get", count: 3)
        let answer = try await call(try tokenEndpoint())
        XCTAssertEqual(answer.status, 500, answer.body)
        XCTAssertTrue(answer.body.contains("2040"), answer.body)
        // Two sends of the call; between them the invalidated token was refreshed (a POST,
        // which the fault queued for GETs leaves alone).
        XCTAssertEqual(try counts("get", "faulted", "refresh", "issued"), [2, 2, 1, 1])
    }

    // MARK: - refused CoboAuth headers

    func testANonceOutsideCobosWindowIsResentFreshlySignedOnCobosClock() async throws {
        try await warmUp()
        // Cobo's clock two minutes ahead of this host's: the first nonce is out of its window.
        try mock.setClockOffset(ms: 120_000)
        skewed = true
        let first = try await call(try wallets("skewed-1"))
        XCTAssertEqual(first.status, 200, first.body)
        XCTAssertEqual(try counts("protected_accepted", "protected_refused", "nonce_reuses"), [1, 1, 0],
                       "refused once (error_code 2042), then accepted")
        // The refusal's verified Biz-Timestamp moved the nonces onto Cobo's clock.
        let second = try await call(try wallets("skewed-2"))
        XCTAssertEqual(second.status, 200, second.body)
        XCTAssertEqual(try counts("protected_accepted", "protected_refused"), [2, 1], "no second refusal")
    }

    func testACoboAuthRefusalIsResentAtMostThreeTimes() async throws {
        try await warmUp()
        try mock.injectFault(["kind": "server_error", "status": 401, "error_code": 2041], operation: "get", count: 6)
        let answer = try await call(try tokenEndpoint())
        XCTAssertEqual(answer.status, 401, answer.body)
        XCTAssertEqual(try counts("get", "faulted", "issued"), [4, 4, 0], "the call and 3 resends")
    }

    // MARK: - final answers

    func testAGenericServerErrorOrAnUncodedRefusalIsNeverResent() async throws {
        try await warmUp()
        let finals: [[String: Any]] = [
            ["kind": "server_error"],   // 500, error_code 12001
            ["kind": "server_error", "error_code": 1000, "error_message": "token expired"],   // Cobo's generic code
            ["kind": "oauth_error", "status": 401, "error": "invalid_client", "error_description": "no code"],
            ["kind": "server_error", "status": 502, "error_code": 2040],   // the token's code under another status
        ]
        for fault in finals {
            try mock.reset()   // counters and any fault left over
            try mock.injectFault(fault, operation: "get", count: 2)
            let answer = try await call(try tokenEndpoint())
            XCTAssertNotEqual(answer.status, 200, "\(fault)")
            XCTAssertEqual(try counts("get", "faulted", "refresh", "issued"), [1, 1, 0, 0], "sent once: \(fault)")
        }
    }

    // MARK: - two processes, one key

    func testTwoProcessesSigningWithOneKeyFlatOutAreNeverRefused() throws {
        let run = try runTwoProcesses(tasks: 4, clockDirs: [nil, nil])
        XCTAssertEqual(run.errors, [], "failed calls")
        XCTAssertEqual(run.failures, [0, 0])
        XCTAssertTrue(run.calls.allSatisfy { $0 > 0 }, "each process called: \(run.calls)")
        XCTAssertEqual(try XCTUnwrap(run.counters["nonce_reuses"]), 0, "\(run.counters)")
        XCTAssertEqual(try XCTUnwrap(run.counters["protected_refused"]), 0, "\(run.counters)")
        XCTAssertEqual(run.counters["protected_accepted"], run.calls.reduce(0, +), "every call accepted at its first send")
    }

    /// The control: the same two processes on clocks of their own (COBO_OAUTH_CLOCK_DIR
    /// apart), as two hosts sharing a key are. Their nonces collide, so the test above
    /// would see it if the clock were not shared. At this rate re-signing does not save
    /// them: a process whose nonces run ahead of the clock has used every later one, so
    /// the other's calls (and its token requests) keep being refused.
    func testTwoProcessesOnClocksOfTheirOwnCollide() throws {
        let dirs: [URL] = (0..<2).map { _ in
            FileManager.default.temporaryDirectory.appendingPathComponent("clock-\(UUID().uuidString)")
        }
        defer { for dir in dirs { try? FileManager.default.removeItem(at: dir) } }
        let run = try runTwoProcesses(tasks: 1, clockDirs: dirs.map { $0.path })
        let reuses = try XCTUnwrap(run.counters["nonce_reuses"])
        XCTAssertGreaterThan(reuses, 0, "independent clocks drew the same nonces: \(run.counters)")
        XCTAssertLessThanOrEqual(try XCTUnwrap(run.counters["protected_refused"]), reuses, "every refusal was a used nonce")
        XCTAssertEqual(run.counters["protected_accepted"], run.calls.reduce(0, +))
    }

    /// Two CoordinationWorker processes calling /v2/wallets with this test's key for 5 s,
    /// `tasks` tasks each, back to back (`clockDirs`: each one's COBO_OAUTH_CLOCK_DIR, nil
    /// for the default); each one's calls (verified 200s) and failures, their first
    /// errors, and the mock's counters.
    private func runTwoProcesses(tasks: Int, clockDirs: [String?])
        throws -> (calls: [Int], failures: [Int], errors: [String], counters: [String: Int])
    {
        let millis = 5000
        let arguments = ["waas", mock.baseURL, mock.responsePublicKey, clientId, org, "\(tasks)", "\(millis)"]
        let children = try clockDirs.map { dir in
            try startCoordinationWorker(arguments: arguments, key: key,
                                        environment: dir.map { ["COBO_OAUTH_CLOCK_DIR": $0] } ?? [:])
        }
        let results = try children.map { try finishCoordinationWorker($0) }
        let calls = try results.map { try field($0, "calls", as: Int.self) }
        let failures = try results.map { try field($0, "failures", as: Int.self) }
        let errors = try results.flatMap { try field($0, "errors", as: [String].self) }
        let counters = try mock.counters()
        let clocks = clockDirs.contains { $0 != nil } ? "a clock each" : "one shared clock"
        print("2 processes (\(clocks)), \(tasks) task(s) each, \(millis) ms, one key: calls \(calls), failures "
              + "\(failures); mock: protected_accepted \(counters["protected_accepted"] ?? -1), protected_refused "
              + "\(counters["protected_refused"] ?? -1), nonce_reuses \(counters["nonce_reuses"] ?? -1), "
              + "issued \(counters["issued"] ?? -1)")
        return (calls, failures, errors, counters)
    }

    /// (issued, protected_accepted, protected_refused).
    private func counted() throws -> (Int, Int, Int) {
        let values = try counts("issued", "protected_accepted", "protected_refused")
        return (values[0], values[1], values[2])
    }
}
