// URLRequest signing and response verification against the mock's protected endpoint,
// which checks CoboAuth over the bytes that arrived: an accepted call proves the
// signature covers what URLSession sent.

import CoboOAuth
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

final class URLRequestAuthTests: XCTestCase {
    /// Every character a query value must have encoded, and one that must not be.
    private let awkward = "a b+c&d=e/f~é"

    private var mock: MockServer!
    private var key: AppKey!
    private var clientId = ""
    private let org = "org-swift-hooks"
    private var manager: TokenManager!
    private var verifier: ResponseVerifier!

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
        try mock.setAccessTTL(43199)
    }

    private func request(_ pathAndQuery: String, method: String = "GET", body: Data? = nil) throws -> URLRequest {
        let url = try XCTUnwrap(URL(string: mock.baseURL + pathAndQuery))
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        if body != nil {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        return request
    }

    /// The mock's echo of what arrived.
    private func echo(_ request: URLRequest) async throws -> [String: Any] {
        let (data, response) = try await URLSession.shared.coboData(
            for: request, key: key, manager: manager, orgId: org, verifier: verifier)
        XCTAssertEqual(response.statusCode, 200, String(decoding: data, as: UTF8.self))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap(object["request"] as? [String: Any])
    }

    private func protectedCounts() throws -> [Int] {
        let counters = try mock.counters()
        return [counters["protected_accepted"] ?? -1, counters["protected_refused"] ?? -1]
    }

    /// Form encoding by hand: URLComponents.queryItems would leave `+` as is.
    private func formEncoded(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn:
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? ""
    }

    func testAQueryNeedingEncodingAndAJsonPostAreAccepted() async throws {
        let echoed = try await echo(try request("/wallets?name=\(formEncoded(awkward))&limit=10"))
        let params = try XCTUnwrap(echoed["params"] as? [[String]])
        XCTAssertEqual(params, [["name", awkward], ["limit", "10"]])
        XCTAssertEqual(echoed["org_id"] as? String, org)

        let payload = try JSONSerialization.data(withJSONObject: ["name": awkward, "wallet_type": "Custodial"])
        let posted = try await echo(try request("/wallets/w%201/addresses", method: "POST", body: payload))
        XCTAssertEqual((posted["body"] as? [String: String])?["name"], awkward)
        XCTAssertEqual(posted["path"] as? String, "/v2/wallets/w%201/addresses")
        XCTAssertEqual(try protectedCounts(), [2, 0])
    }

    func testATamperedResponseIsRejectedUnlessVerificationIsOff() async throws {
        try mock.tamper()
        do {
            _ = try await echo(try request("/wallets"))
            XCTFail("a tampered answer was accepted")
        } catch CoboOAuthError.ResponseSignature {
        }
        try mock.tamper()
        let (data, _) = try await URLSession.shared.coboData(
            for: try request("/wallets"), key: key, manager: manager, orgId: org, verifier: nil)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual((object["pagination"] as? [String: Any])?["total_count"] as? Int, 1_000_000)
    }

    func testAnExpiredTokenIsRenewedBeforeTheCall() async throws {
        try mock.setAccessTTL(1)
        _ = try await echo(try request("/wallets"))
        try await Task.sleep(nanoseconds: 1_100_000_000)
        try mock.setAccessTTL(43199)
        _ = try await echo(try request("/wallets"))
        let counters = try mock.counters()
        XCTAssertEqual([counters["get"], counters["refresh"]], [1, 1], "renewed by the clock")
        XCTAssertEqual(try protectedCounts(), [2, 0], "never sent a dead token")
    }

    func testSixteenConcurrentCallersGetUniqueNonces() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    for call in 0..<4 {
                        _ = try await self.echo(try self.request("/wallets?task=\(task)&call=\(call)"))
                    }
                }
            }
            try await group.waitForAll()
        }
        // The mock refuses a reused nonce: 64 accepted calls had 64 distinct nonces.
        XCTAssertEqual(try protectedCounts(), [64, 0])
        XCTAssertEqual(try mock.counters()["get"], 1)
    }

    func testTheSigningFunctionAndTheVerifierStandAlone() throws {
        var signed = try self.request("/wallets?x=1", method: "POST", body: Data("{}".utf8))
        try signed.authorizeForCobo(key: key, manager: manager, orgId: org)
        let token = try manager.accessToken(orgId: org)
        XCTAssertEqual(signed.value(forHTTPHeaderField: "Authorization"), "Bearer \(token.value)")
        XCTAssertEqual(signed.value(forHTTPHeaderField: "Biz-Api-Key"), key.apiKey())

        var streamed = try self.request("/wallets", method: "POST")
        streamed.httpBodyStream = InputStream(data: Data("{}".utf8))
        assertCoboError(try streamed.authorizeForCobo(key: key, manager: manager, orgId: org)) {
            XCTAssertEqual($0.udlView.variant, "InvalidArgument")
        }
        var notUTF8 = try self.request("/wallets", method: "POST", body: Data([0xff, 0xfe]))
        assertCoboError(try notUTF8.authorizeForCobo(key: key, manager: manager, orgId: org)) {
            XCTAssertEqual($0.udlView.variant, "InvalidArgument")
        }

        let url = try XCTUnwrap(URL(string: mock.baseURL + "/wallets"))
        let proxy = try XCTUnwrap(HTTPURLResponse(url: url, statusCode: 503, httpVersion: nil, headerFields: [:]))
        assertCoboError(try proxy.verifyCoboSignature(data: Data(), verifier: verifier)) {
            XCTAssertEqual($0.udlView.variant, "Unavailable")
        }
        let unsigned = try XCTUnwrap(HTTPURLResponse(url: url, statusCode: 200, httpVersion: nil, headerFields: [:]))
        assertCoboError(try unsigned.verifyCoboSignature(data: Data(), verifier: verifier)) { error in
            XCTAssertEqual(error.udlView.variant, "ResponseSignature")
            XCTAssertFalse("\(error)".contains(token.value))
        }
    }

    func testTheReadmeSnippetListsWallets() async throws {
        let data = try await listWallets(
            key: key, config: mock.config(), verifier: verifier, clientId: clientId, orgId: org)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual((object["request"] as? [String: Any])?["query"] as? String, "wallet_type=Custodial&limit=10")
    }
}
