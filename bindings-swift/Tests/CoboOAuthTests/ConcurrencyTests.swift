// One client and one key shared by many threads at once.

import CoboOAuth
import Foundation
import XCTest

final class ConcurrencyTests: XCTestCase {
    private final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var tokens: [OrgToken] = []
        private(set) var errors: [String] = []

        func add(_ result: Result<OrgToken, Error>) {
            lock.lock()
            defer { lock.unlock() }
            switch result {
            case let .success(token): tokens.append(token)
            case let .failure(error): errors.append(String(describing: error))
            }
        }
    }

    func testSharedClientFromSixteenThreads() throws {
        let mock = try MockServer.forTest()
        let app = try mock.newApp()
        let client = try OAuthClient(key: app.key, config: mock.config(maxRetries: 0))
        let results = Results()

        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            results.add(Result {
                let token = try client.getOrgToken(clientId: app.clientId, orgId: "org-1")
                return try client.refreshOrgToken(clientId: app.clientId, refreshToken: token.refreshToken)
            })
        }

        XCTAssertEqual(results.errors, [])
        XCTAssertEqual(results.tokens.count, 16)
        XCTAssertEqual(Set(results.tokens.map(\.accessToken)).count, 16)
        XCTAssertEqual(Set(results.tokens.map(\.refreshToken)).count, 16)
        let counters = try mock.counters()
        XCTAssertEqual(counters["get"], 16)
        XCTAssertEqual(counters["refresh"], 16)
        XCTAssertEqual(counters["issued"], 32)
        XCTAssertEqual(counters["rejected"], 0)
    }

    /// Nonces stay unique across threads: the mock refuses a reused one.
    func testConcurrentSigningGivesUniqueNonces() throws {
        let key = try AppKey.generate()
        let lock = NSLock()
        var nonces: [String] = []
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            let signed = (0..<20).map { _ in key.signRequest(method: "GET", path: "/v2/x", query: "", body: "") }
            lock.lock()
            nonces += signed.map(\.nonce)
            lock.unlock()
        }
        XCTAssertEqual(nonces.count, 320)
        XCTAssertEqual(Set(nonces).count, 320)
    }
}
