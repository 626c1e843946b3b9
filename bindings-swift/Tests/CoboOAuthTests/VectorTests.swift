// The shared vectors (tests/vectors/*.json), made by an independent implementation.

import CoboOAuth
import Foundation
import XCTest

final class VectorTests: XCTestCase {
    func testSigningVectors() throws {
        let cases = try TestEnvironment.vectors("signing.json")
        XCTAssertFalse(cases.isEmpty)
        for vector in cases {
            let name: String = try field(vector, "name")
            let key = try AppKey(privateKeyHex: Secret(try field(vector, "private_key_hex")))
            XCTAssertEqual(key.apiKey(), try field(vector, "api_key"), name)

            let method: String = try field(vector, "method")
            let path: String = try field(vector, "path")
            let nonce: String = try field(vector, "nonce")
            let query: String = try field(vector, "query")
            let body: String = try field(vector, "body")
            let signed = key.signRequestWithNonce(
                method: method, path: path, query: query, body: body, nonce: nonce)
            XCTAssertEqual(signed.apiKey, try field(vector, "api_key"), name)
            XCTAssertEqual(signed.nonce, nonce, name)
            XCTAssertEqual(signed.content.value, try field(vector, "content"), name)
            XCTAssertEqual(signed.digest, try field(vector, "digest"), name)
            XCTAssertEqual(signed.signature, try field(vector, "signature"), name)

            let content = canonicalContent(method: method, path: path, nonce: nonce, query: query, body: body)
            XCTAssertEqual(content, try field(vector, "content"), name)
            XCTAssertEqual(contentDigest(content: content), try field(vector, "digest"), name)
        }
    }

    func testKeyVectors() throws {
        let cases = try TestEnvironment.vectors("keys.json")
        XCTAssertFalse(cases.isEmpty)
        for vector in cases {
            let name: String = try field(vector, "name")
            let input: String = try field(vector, "input")
            if try field(vector, "valid", as: Bool.self) {
                let key = try AppKey(privateKeyHex: Secret(input))
                XCTAssertEqual(key.apiKey(), try field(vector, "api_key"), name)
                // The stored form round-trips to the same key.
                XCTAssertEqual(try AppKey(privateKeyHex: key.privateKeyHex()).apiKey(), key.apiKey(), name)
            } else {
                XCTAssertEqual(try field(vector, "error"), "InvalidKey", name)
                assertCoboError(try AppKey(privateKeyHex: Secret(input)), name) { error in
                    guard case let .InvalidKey(reason) = error else {
                        return XCTFail("\(name): expected InvalidKey, got \(error)")
                    }
                    XCTAssertFalse(reason.isEmpty, name)
                    if input.count >= 16 {
                        XCTAssertFalse(reason.contains(input), "\(name): the reason echoes the key")
                    }
                }
            }
        }
    }

    func testVerifyVectors() throws {
        let cases = try TestEnvironment.vectors("verify.json")
        XCTAssertFalse(cases.isEmpty)
        for vector in cases {
            let name: String = try field(vector, "name")
            let publicKey: String = try field(vector, "public_key_hex")
            let body = Data(try field(vector, "body", as: String.self).utf8)
            let timestamp: String = try field(vector, "timestamp")
            let signature: String = try field(vector, "signature")
            let verifier = try ResponseVerifier.withKey(publicKeyHex: publicKey)
            if try field(vector, "valid", as: Bool.self) {
                XCTAssertNoThrow(try verifier.verify(body: body, timestamp: timestamp, signature: signature), name)
                XCTAssertNoThrow(
                    try verifyWebhookWithKey(
                        body: body, timestamp: timestamp, signature: signature, publicKeyHex: publicKey), name)
            } else {
                assertCoboError(try verifier.verify(body: body, timestamp: timestamp, signature: signature), name) {
                    guard case .ResponseSignature = $0 else { return XCTFail("\(name): got \($0)") }
                }
                assertCoboError(
                    try verifyWebhookWithKey(
                        body: body, timestamp: timestamp, signature: signature, publicKeyHex: publicKey), name
                ) {
                    guard case .ResponseSignature = $0 else { return XCTFail("\(name): got \($0)") }
                }
            }
        }
    }

    /// The vectors are signed with a test key, so every Cobo environment must refuse them.
    func testEnvironmentKeysRefuseTestSignatures() throws {
        let vector = try XCTUnwrap(
            try TestEnvironment.vectors("verify.json").first { ($0["valid"] as? Bool) == true })
        let body = Data(try field(vector, "body", as: String.self).utf8)
        let timestamp: String = try field(vector, "timestamp")
        let signature: String = try field(vector, "signature")
        for environment in [Environment.dev, .sandbox, .prod] {
            assertCoboError(
                try verifyWebhook(body: body, timestamp: timestamp, signature: signature, environment: environment)
            ) {
                guard case .ResponseSignature = $0 else { return XCTFail("\(environment): got \($0)") }
            }
            assertCoboError(
                try ResponseVerifier(environment: environment)
                    .verify(body: body, timestamp: timestamp, signature: signature)
            ) {
                guard case .ResponseSignature = $0 else { return XCTFail("\(environment): got \($0)") }
            }
        }
    }
}
