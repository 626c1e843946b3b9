// Every operation against the shared mock server, on the success path and the refusals
// Cobo itself returns (unknown app, uninstalled org, spent refresh token).

import CoboOAuth
import Foundation
import XCTest

final class ClientTests: XCTestCase {
    func testGetAndRefreshRotateTokens() throws {
        let mock = try MockServer.forTest()
        let app = try mock.newApp(orgs: ["org-1"])
        let client = try OAuthClient(key: app.key, config: mock.config())
        XCTAssertEqual(client.baseUrl(), mock.baseURL)

        let before = Date()
        let token = try client.getOrgToken(clientId: app.clientId, orgId: "org-1")
        XCTAssertEqual(token.tokenType, "Bearer")
        XCTAssertEqual(token.scope, "")
        XCTAssertEqual(token.expiresIn, 43199)
        XCTAssertFalse(token.accessToken.value.isEmpty)
        XCTAssertFalse(token.refreshToken.value.isEmpty)
        // expires_at is computed at receipt: now + expires_in.
        let expected = before.addingTimeInterval(TimeInterval(token.expiresIn))
        XCTAssertEqual(token.expiresAt.timeIntervalSince1970, expected.timeIntervalSince1970, accuracy: 60)

        let refreshed = try client.refreshOrgToken(clientId: app.clientId, refreshToken: token.refreshToken)
        XCTAssertEqual(refreshed.tokenType, "Bearer")
        XCTAssertNotEqual(refreshed.accessToken, token.accessToken)
        XCTAssertNotEqual(refreshed.refreshToken, token.refreshToken)
        XCTAssertGreaterThanOrEqual(refreshed.expiresAt, token.expiresAt)

        // Rotation: the first refresh token is spent.
        assertCoboError(try client.refreshOrgToken(clientId: app.clientId, refreshToken: token.refreshToken)) {
            guard case let .OAuth(status, error, description) = $0 else { return XCTFail("got \($0)") }
            XCTAssertEqual(status, 400)
            XCTAssertEqual(error, "invalid_grant")
            XCTAssertFalse(description.isEmpty)
        }
        // The new one still works.
        XCTAssertNoThrow(try client.refreshOrgToken(clientId: app.clientId, refreshToken: refreshed.refreshToken))

        let counters = try mock.counters()
        XCTAssertEqual(counters["get"], 1)
        XCTAssertEqual(counters["refresh"], 3)
        XCTAssertEqual(counters["issued"], 3)
        XCTAssertEqual(counters["rejected"], 1)
    }

    func testUninstalledOrgIsRefused() throws {
        let mock = try MockServer.forTest()
        let app = try mock.newApp(orgs: ["org-1"])
        let client = try OAuthClient(key: app.key, config: mock.config())
        assertCoboError(try client.getOrgToken(clientId: app.clientId, orgId: "org-not-installed")) {
            guard case let .OAuth(status, error, _) = $0 else { return XCTFail("got \($0)") }
            XCTAssertEqual(status, 403)
            XCTAssertEqual(error, "unauthorized_client")
        }
    }

    func testUnregisteredKeyIsRefused() throws {
        let mock = try MockServer.forTest()
        let app = try mock.newApp()
        let stranger = try OAuthClient(key: try AppKey.generate(), config: mock.config())
        assertCoboError(try stranger.getOrgToken(clientId: app.clientId, orgId: "org-1")) {
            guard case let .OAuth(status, error, _) = $0 else { return XCTFail("got \($0)") }
            XCTAssertEqual(status, 401)
            XCTAssertEqual(error, "invalid_client")
        }
    }

    func testRefreshTokenOfAnotherClientIsRefused() throws {
        let mock = try MockServer.forTest()
        let first = try mock.newApp()
        let second = try mock.newApp()
        let token = try OAuthClient(key: first.key, config: mock.config())
            .getOrgToken(clientId: first.clientId, orgId: "org-1")
        let other = try OAuthClient(key: second.key, config: mock.config())
        assertCoboError(try other.refreshOrgToken(clientId: second.clientId, refreshToken: token.refreshToken)) {
            guard case let .OAuth(status, error, _) = $0 else { return XCTFail("got \($0)") }
            XCTAssertEqual(status, 400)
            XCTAssertEqual(error, "invalid_grant")
        }
    }

    /// A response signed with another key than the configured one is not trusted.
    func testWrongResponseKeyIsRefused() throws {
        let mock = try MockServer.forTest()
        let app = try mock.newApp()
        let otherKey = try AppKey.generate().apiKey()   // any valid Ed25519 public key
        let config = ClientConfig(baseUrl: mock.baseURL, responsePublicKey: otherKey)
        let client = try OAuthClient(key: app.key, config: config)
        assertCoboError(try client.getOrgToken(clientId: app.clientId, orgId: "org-1")) {
            guard case .ResponseSignature = $0 else { return XCTFail("got \($0)") }
        }
    }

    /// Nothing listens on the port: a transport error, not a hang.
    func testConnectionRefusedIsTransport() throws {
        let mock = try MockServer.forTest()
        let config = ClientConfig(
            baseUrl: "http://127.0.0.1:9/v2", responsePublicKey: mock.responsePublicKey, maxRetries: 0)
        let client = try OAuthClient(key: try AppKey.generate(), config: config)
        assertCoboError(try client.getOrgToken(clientId: "c", orgId: "o")) {
            guard case let .Transport(reason) = $0 else { return XCTFail("got \($0)") }
            XCTAssertFalse(reason.isEmpty)
        }
    }

    func testEnvironmentBaseUrls() throws {
        let key = try AppKey.generate()
        let urls = try [Environment.dev, .sandbox, .prod].map {
            try OAuthClient(key: key, config: ClientConfig(environment: $0)).baseUrl()
        }
        XCTAssertEqual(urls, ["https://api.dev.cobo.com/v2", "https://api.sandbox.cobo.com/v2", "https://api.cobo.com/v2"])
        XCTAssertEqual(try OAuthClient(key: key, config: ClientConfig()).baseUrl(), "https://api.cobo.com/v2")
    }

    /// Signing does no I/O and nonces strictly increase, even called back to back.
    func testSignRequestNoncesIncrease() throws {
        let key = try AppKey.generate()
        let signed = (0..<50).map { _ in key.signRequest(method: "GET", path: "/v2/oauth/token", query: "a=1", body: "") }
        let nonces = signed.compactMap { UInt64($0.nonce) }
        XCTAssertEqual(nonces.count, 50)
        XCTAssertEqual(nonces, nonces.sorted())
        XCTAssertEqual(Set(nonces).count, 50)
        for request in signed {
            XCTAssertEqual(request.apiKey, key.apiKey())
            XCTAssertEqual(request.content.value, "GET|/v2/oauth/token|\(request.nonce)|a=1|")
            XCTAssertEqual(request.digest, contentDigest(content: request.content.value))
            XCTAssertEqual(request.signature.count, 128)
        }
    }
}
