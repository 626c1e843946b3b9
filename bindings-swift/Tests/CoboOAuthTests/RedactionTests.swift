// Keys and tokens never appear in anything Swift prints: descriptions, debug
// descriptions, dump, interpolation, error descriptions.

import CoboOAuth
import Foundation
import XCTest

final class RedactionTests: XCTestCase {
    func testSecretPrintsRedacted() {
        let secret = Secret("s3cr3t-value-0123456789")
        for rendering in allRenderings(secret) + allRenderings([secret]) + allRenderings(Optional(secret) as Any) {
            XCTAssertFalse(rendering.contains("s3cr3t"), rendering)
            XCTAssertTrue(rendering.contains("redacted"), rendering)
        }
        XCTAssertEqual(secret.value, "s3cr3t-value-0123456789")
        XCTAssertEqual(secret, Secret("s3cr3t-value-0123456789"))
        XCTAssertNotEqual(secret, Secret("other"))
    }

    func testOrgTokenPrintsNoToken() throws {
        let mock = try MockServer.forTest()
        let app = try mock.newApp()
        let token = try OAuthClient(key: app.key, config: mock.config())
            .getOrgToken(clientId: app.clientId, orgId: "org-1")
        let secrets = [token.accessToken.value, token.refreshToken.value]
        for rendering in allRenderings(token) + allRenderings([token]) {
            for secret in secrets {
                XCTAssertFalse(rendering.contains(secret), "a token leaks into: \(rendering)")
            }
            // The non-secret fields stay visible for debugging.
            XCTAssertTrue(rendering.contains("Bearer"), rendering)
        }
    }

    /// A StoredToken (what a TokenManager hands out and a TokenStore keeps) prints its
    /// OrgToken's secrets redacted; so do the manager's header and its errors.
    func testStoredTokenPrintsNoToken() throws {
        let mock = try MockServer.forTest()
        let app = try mock.newApp()
        let client = try OAuthClient(key: app.key, config: mock.config())
        let manager = try TokenManager(client: client, clientId: app.clientId)
        let stored = try manager.token(orgId: "org-1")
        let header = try manager.authorizationHeader(orgId: "org-1")
        let secrets = [stored.token.accessToken.value, stored.token.refreshToken.value]
        XCTAssertEqual(header.value, "Bearer \(secrets[0])")
        let renderings = allRenderings(stored) + allRenderings([stored]) + allRenderings(Optional(stored) as Any)
            + allRenderings(header) + allRenderings(manager)
        for rendering in renderings {
            for secret in secrets {
                XCTAssertFalse(rendering.contains(secret), "a token leaks into: \(rendering)")
            }
        }
        for rendering in allRenderings(stored) {
            XCTAssertTrue(rendering.contains("redacted"), rendering)
            XCTAssertTrue(rendering.contains("Bearer"), rendering)   // the token type stays visible
        }
    }

    func testSignedRefreshRequestPrintsNoRefreshToken() throws {
        let refreshToken = "rK49jI0zt49gsttzscscik15Asmlpu1TdcxqguJJS8B9f6ilJEC0y3PbVqwsEAw5"
        let body = #"{"client_id":"c","grant_type":"refresh_token","refresh_token":"\#(refreshToken)"}"#
        let signed = try AppKey.generate().signRequest(method: "POST", path: "/v2/oauth/token", query: "", body: body)
        for rendering in allRenderings(signed) {
            XCTAssertFalse(rendering.contains(refreshToken), "the refresh token leaks into: \(rendering)")
        }
        XCTAssertTrue(signed.content.value.hasSuffix(body))
    }

    func testAppKeyPrintsNoSeed() throws {
        let seed = "92e6f715e9fbf16368aa5a02e5e765b13f7d9136aacd9417fdf2e90059c98fdd"
        let key = try AppKey(privateKeyHex: Secret(seed))
        XCTAssertEqual(key.privateKeyHex().value, seed)
        for rendering in allRenderings(key) + allRenderings(key.privateKeyHex()) {
            XCTAssertFalse(rendering.contains(seed), rendering)
        }
    }

    /// Errors carry no secrets: not the refresh token sent, not a rejected key's text.
    func testErrorsPrintNoSecret() throws {
        let mock = try MockServer.forTest()
        let app = try mock.newApp()
        let client = try OAuthClient(key: app.key, config: mock.config())
        let refreshToken = "rt-swift-redaction-probe-9f8e7d6c5b4a"
        var caught: [Error] = []
        do {
            _ = try client.refreshOrgToken(clientId: app.clientId, refreshToken: Secret(refreshToken))
        } catch {
            caught.append(error)
        }
        let badKey = "92e6f715e9fbf16368aa5a02e5e765b13f7d9136aacd9417fdf2e90059c98fdZ"
        do {
            _ = try AppKey(privateKeyHex: Secret(badKey))
        } catch {
            caught.append(error)
        }
        XCTAssertEqual(caught.count, 2)
        for error in caught {
            for rendering in allRenderings(error) {
                XCTAssertFalse(rendering.contains(refreshToken), rendering)
                XCTAssertFalse(rendering.contains(String(badKey.prefix(20))), rendering)
            }
        }
    }

    /// Errors describe themselves with their case and fields.
    func testErrorDescriptionsNameCaseAndFields() {
        let error = CoboOAuthError.Server(status: 500, errorCode: 12001, errorMessage: "boom", errorId: "abc123")
        let text = error.localizedDescription
        for part in ["Server", "500", "12001", "boom", "abc123"] {
            XCTAssertTrue(text.contains(part), text)
        }
    }
}
