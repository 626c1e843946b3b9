// HTTPS against the second mock (`cobo-oauth-mock --tls`, started by scripts/test.sh):
// its throwaway CA via extraCaPem, a refusal without it, the token manager, two faults of
// the matrix, and the test CONNECT proxy.

import CoboOAuth
import Foundation
import XCTest

final class HTTPSTests: XCTestCase {
    func testGetAndRefreshOverHTTPSTrustingTheMocksCA() throws {
        let mock = try MockServer.tlsForTest()
        XCTAssertTrue(mock.baseURL.hasPrefix("https://127.0.0.1:"), mock.baseURL)
        let app = try mock.newApp()
        let client = try OAuthClient(key: app.key, config: mock.config())
        let first = try client.getOrgToken(clientId: app.clientId, orgId: "org-1")
        let second = try client.refreshOrgToken(clientId: app.clientId, refreshToken: first.refreshToken)
        XCTAssertNotEqual(first.refreshToken.value, second.refreshToken.value)
    }

    func testWithoutTheCATheCertificateIsAnUnknownIssuer() throws {
        let mock = try MockServer.tlsForTest()
        let app = try mock.newApp()
        let client = try OAuthClient(key: app.key, config: mock.config(maxRetries: 0, trustCA: false))
        assertCoboError(try client.getOrgToken(clientId: app.clientId, orgId: "org-1")) { error in
            guard case let .Transport(reason) = error else {
                return XCTFail("expected Transport, got \(error)")
            }
            XCTAssertTrue(reason.contains("invalid peer certificate: UnknownIssuer"), reason)
        }
        XCTAssertEqual(try mock.counters()["total"], 0)
    }

    func testTheTokenManagerWorksOverHTTPS() throws {
        let mock = try MockServer.tlsForTest()
        let app = try mock.newApp()
        let manager = try TokenManager(
            client: try OAuthClient(key: app.key, config: mock.config()), clientId: app.clientId)
        XCTAssertTrue(try manager.authorizationHeader(orgId: "org-1").value.hasPrefix("Bearer "))
    }

    func testTwoMatrixFaultsOverHTTPS() throws {
        let mock = try MockServer.tlsForTest()
        let path = try TestEnvironment.require("COBO_TEST_FAULTS")
        let entries = try XCTUnwrap(
            try TestEnvironment.readJSON(URL(fileURLWithPath: path)) as? [[String: Any]], "faults.json: not a list")
        func entry(_ name: String) throws -> [String: Any] {
            try XCTUnwrap(entries.first { $0["name"] as? String == name }, name)
        }
        let app = try mock.newApp()
        let client = try OAuthClient(key: app.key, config: mock.config(maxRetries: 0))

        let serverError = try entry("refresh_server_error_500")
        let expect = try field(serverError, "expect", as: [String: Any].self)
        let token = try client.getOrgToken(clientId: app.clientId, orgId: "org-1")
        try mock.injectFault(try XCTUnwrap(serverError["fault"]), operation: "refresh")
        assertCoboError(try client.refreshOrgToken(clientId: app.clientId, refreshToken: token.refreshToken)) {
            XCTAssertEqual($0.udlView.variant, "Server")
            XCTAssertEqual($0.udlView.fields["status"] as? Int, expect["status"] as? Int)
        }

        let truncated = try entry("get_truncated_body")
        try mock.injectFault(try XCTUnwrap(truncated["fault"]), operation: "get")
        assertCoboError(try client.getOrgToken(clientId: app.clientId, orgId: "org-1")) {
            XCTAssertEqual($0.udlView.variant, "Transport")
        }
    }

    func testAnExplicitProxyTunnelsTheRequestWithoutClearText() throws {
        let mock = try MockServer.tlsForTest()
        let proxy = try ConnectProxy.fromEnvironment()
        try proxy.reset()
        let app = try mock.newApp()
        let client = try OAuthClient(key: app.key, config: mock.config(proxyUrl: Secret(proxy.proxyURL)))
        _ = try client.getOrgToken(clientId: app.clientId, orgId: "org-1")
        let seen = try proxy.seen()
        let authority = mock.baseURL.replacingOccurrences(of: "https://", with: "")
            .replacingOccurrences(of: "/v2", with: "")
        XCTAssertEqual(seen["connect"] as? [String], [authority])
        XCTAssertEqual((seen["plaintext"] as? [String])?.count, 0)
    }
}
