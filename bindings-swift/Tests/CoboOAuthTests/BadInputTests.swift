// Inputs the library must refuse with a typed error (never a crash), before any I/O.

import CoboOAuth
import Foundation
import XCTest

final class BadInputTests: XCTestCase {
    private let seed = "92e6f715e9fbf16368aa5a02e5e765b13f7d9136aacd9417fdf2e90059c98fdd"

    func testMalformedKeysAreInvalidKey() {
        let inputs = [
            "", "   ", "00", String(seed.dropLast()), seed + "0", "0x" + seed,
            String(seed.dropLast()) + "g", String(repeating: "é", count: 32),
            // 128 bytes whose 64th byte is inside a two-byte character.
            String(seed.prefix(63)) + "é" + String(seed.prefix(63)),
            seed + String(repeating: "0", count: 64),   // public half does not match
        ]
        for input in inputs {
            assertCoboError(try AppKey(privateKeyHex: Secret(input)), "input \(input.debugDescription)") {
                guard case let .InvalidKey(reason) = $0 else { return XCTFail("\(input): got \($0)") }
                XCTAssertFalse(reason.isEmpty)
            }
        }
    }

    func testMalformedResponseKeysAreRefused() {
        for input in ["", "zz", String(repeating: "a", count: 63), String(repeating: "0", count: 66)] {
            assertCoboError(try ResponseVerifier.withKey(publicKeyHex: input), input) {
                switch $0 {
                case .InvalidArgument, .InvalidKey: break
                default: XCTFail("\(input): got \($0)")
                }
            }
        }
    }

    func testMalformedSignaturesAreResponseSignature() throws {
        let publicKey = try AppKey.generate().apiKey()
        for signature in ["", "00", String(repeating: "z", count: 128), String(repeating: "0", count: 130)] {
            assertCoboError(
                try verifyWebhookWithKey(body: Data("{}".utf8), timestamp: "1", signature: signature,
                                         publicKeyHex: publicKey), signature
            ) {
                guard case .ResponseSignature = $0 else { return XCTFail("\(signature): got \($0)") }
            }
        }
    }

    func testUnusableConfigurationsAreInvalidArgument() throws {
        let key = try AppKey.generate()
        let responseKey = try AppKey.generate().apiKey()
        let configs: [(String, ClientConfig)] = [
            ("custom URL without a response key", ClientConfig(baseUrl: "https://proxy.example/v2")),
            ("http to a remote host", ClientConfig(baseUrl: "http://api.cobo.com/v2", responsePublicKey: responseKey)),
            ("not a URL", ClientConfig(baseUrl: "not a url", responsePublicKey: responseKey)),
            ("unsupported scheme", ClientConfig(baseUrl: "ftp://127.0.0.1/v2", responsePublicKey: responseKey)),
            ("credentials in the URL",
             ClientConfig(baseUrl: "https://user:pass@proxy.example/v2", responsePublicKey: responseKey)),
            ("zero timeout", ClientConfig(timeoutMs: 0)),
            ("zero connect timeout", ClientConfig(connectTimeoutMs: 0)),
            ("too many retries", ClientConfig(maxRetries: 1000)),
            ("base delay above max delay", ClientConfig(retryBaseDelayMs: 5000, retryMaxDelayMs: 100)),
            ("control character in the user agent", ClientConfig(userAgent: "agent\r\nX-Injected: 1")),
        ]
        for (name, config) in configs {
            assertCoboError(try OAuthClient(key: key, config: config), name) {
                guard case let .InvalidArgument(reason) = $0 else { return XCTFail("\(name): got \($0)") }
                XCTAssertFalse(reason.isEmpty, name)
            }
        }
        // A malformed response key in the config is refused too, whatever the variant.
        assertCoboError(
            try OAuthClient(key: key, config: ClientConfig(baseUrl: "https://proxy.example/v2", responsePublicKey: "zz")))
    }

    /// Empty IDs and tokens are refused before anything is sent.
    func testEmptyArgumentsAreRefusedWithoutRequests() throws {
        let mock = try MockServer.forTest()
        let app = try mock.newApp()
        let client = try OAuthClient(key: app.key, config: mock.config())
        let calls: [(String, () throws -> OrgToken)] = [
            ("empty client_id", { try client.getOrgToken(clientId: "", orgId: "org-1") }),
            ("blank org_id", { try client.getOrgToken(clientId: app.clientId, orgId: "  ") }),
            ("empty refresh client_id", { try client.refreshOrgToken(clientId: "", refreshToken: Secret("x")) }),
            ("empty refresh token", { try client.refreshOrgToken(clientId: app.clientId, refreshToken: Secret("")) }),
        ]
        for (name, call) in calls {
            assertCoboError(try call(), name) {
                guard case .InvalidArgument = $0 else { return XCTFail("\(name): got \($0)") }
            }
        }
        XCTAssertEqual(try mock.counters()["total"], 0)
    }

    /// IDs with characters that need encoding reach the server intact and signed.
    func testIdsNeedingEncodingAreSentAndSigned() throws {
        let mock = try MockServer.forTest()
        let org = "org with spaces & symbols=+/?é"
        let app = try mock.newApp(orgs: [org])
        let client = try OAuthClient(key: app.key, config: mock.config())
        XCTAssertEqual(try client.getOrgToken(clientId: app.clientId, orgId: org).tokenType, "Bearer")
    }
}
