// Keeps the Swift surface in step with core/src/cobo_oauth.udl: every function, constructor,
// method, record field, enum case and error case (with its fields) of the UDL has an entry
// below, and every entry is a Swift reference the compiler checks. A name the UDL gains
// fails the test until Swift covers it; a name Swift loses fails to compile.

import CoboOAuth
import Foundation
import XCTest

/// UDL name (argument/field names in UDL spelling) -> the Swift API that implements it.
private let swiftReferences: [String: Any] = [
    // namespace cobo_oauth
    "cobo_oauth.verify_webhook(body, timestamp, signature, environment)":
        verifyWebhook(body:timestamp:signature:environment:),
    "cobo_oauth.verify_webhook_with_key(body, timestamp, signature, public_key_hex)":
        verifyWebhookWithKey(body:timestamp:signature:publicKeyHex:),
    "cobo_oauth.canonical_content(method, path, nonce, query, body)":
        canonicalContent(method:path:nonce:query:body:),
    "cobo_oauth.content_digest(content)": contentDigest(content:),
    "cobo_oauth.classify_refusal(status, body)": classifyRefusal(status:body:),
    "cobo_oauth.memory_token_store()": memoryTokenStore,
    "cobo_oauth.file_token_store(path, store_key)": fileTokenStore(path:storeKey:),
    "cobo_oauth.set_log_sink(sink)": setLogSink(sink:),
    "cobo_oauth.redis_token_store(url, key_prefix, timeout_ms, store_key)": redisTokenStore(url:keyPrefix:timeoutMs:storeKey:),
    "cobo_oauth.coordinated_token_store(store)": coordinatedTokenStore(store:),
    "cobo_oauth.verify_delivery(body, headers, environment, max_age_secs)":
        verifyDelivery(body:headers:environment:maxAgeSecs:),
    "cobo_oauth.callback_answer(approve)": callbackAnswer(approve:),
    // [Custom] typedef string Secret
    "Secret": Secret.init(_:),
    // enum Environment
    "Environment.Dev": Environment.dev,
    "Environment.Sandbox": Environment.sandbox,
    "Environment.Prod": Environment.prod,
    // enum Refusal
    "Refusal.CoboAuth": Refusal.coboAuth,
    "Refusal.AccessToken": Refusal.accessToken,
    // enum LogLevel
    "LogLevel.Error": LogLevel.error,
    "LogLevel.Warn": LogLevel.warn,
    "LogLevel.Info": LogLevel.info,
    "LogLevel.Debug": LogLevel.debug,
    "LogLevel.Trace": LogLevel.trace,
    // dictionary LogRecord
    "LogRecord.level": \LogRecord.level,
    "LogRecord.target": \LogRecord.target,
    "LogRecord.message": \LogRecord.message,
    // [Trait, WithForeign] interface LogSink: a protocol Swift classes implement
    "LogSink.log(record)": { (sink: any LogSink) in sink.log(record:) },
    // [Error] interface CoboOAuthError
    "CoboOAuthError.InvalidKey(reason)": CoboOAuthError.InvalidKey(reason:),
    "CoboOAuthError.InvalidArgument(reason)": CoboOAuthError.InvalidArgument(reason:),
    "CoboOAuthError.OAuth(status, error, error_description)": CoboOAuthError.OAuth(status:error:errorDescription:),
    "CoboOAuthError.Server(status, error_code, error_message, error_id)":
        CoboOAuthError.Server(status:errorCode:errorMessage:errorId:),
    "CoboOAuthError.Unavailable(status)": CoboOAuthError.Unavailable(status:),
    "CoboOAuthError.Transport(reason)": CoboOAuthError.Transport(reason:),
    "CoboOAuthError.Timeout(reason)": CoboOAuthError.Timeout(reason:),
    "CoboOAuthError.InvalidResponse(status, reason)": CoboOAuthError.InvalidResponse(status:reason:),
    "CoboOAuthError.ResponseSignature(reason)": CoboOAuthError.ResponseSignature(reason:),
    "CoboOAuthError.Store(reason)": CoboOAuthError.Store(reason:),
    "CoboOAuthError.AuthorizationRequired(org_id, status, error, error_description)":
        CoboOAuthError.AuthorizationRequired(orgId:status:error:errorDescription:),
    "CoboOAuthError.Internal(reason)": CoboOAuthError.Internal(reason:),
    // dictionary OrgToken
    "OrgToken.access_token": \OrgToken.accessToken,
    "OrgToken.token_type": \OrgToken.tokenType,
    "OrgToken.scope": \OrgToken.scope,
    "OrgToken.expires_in": \OrgToken.expiresIn,
    "OrgToken.refresh_token": \OrgToken.refreshToken,
    "OrgToken.expires_at": \OrgToken.expiresAt,
    // dictionary StoredToken
    "StoredToken.token": \StoredToken.token,
    "StoredToken.refresh_expires_at": \StoredToken.refreshExpiresAt,
    "StoredToken.refresh_in_flight": \StoredToken.refreshInFlight,
    // dictionary TokenManagerConfig
    "TokenManagerConfig.refresh_margin_secs": \TokenManagerConfig.refreshMarginSecs,
    "TokenManagerConfig.refresh_token_lifetime_secs": \TokenManagerConfig.refreshTokenLifetimeSecs,
    "TokenManagerConfig.backoff_initial_ms": \TokenManagerConfig.backoffInitialMs,
    "TokenManagerConfig.backoff_max_ms": \TokenManagerConfig.backoffMaxMs,
    "TokenManagerConfig.lease_ttl_ms": \TokenManagerConfig.leaseTtlMs,
    // dictionary VersionedToken
    "VersionedToken.token": \VersionedToken.token,
    "VersionedToken.version": \VersionedToken.version,
    // dictionary TokenLease
    "TokenLease.access_token": \TokenLease.accessToken,
    "TokenLease.serve_until": \TokenLease.serveUntil,
    // dictionary SignedRequest
    "SignedRequest.api_key": \SignedRequest.apiKey,
    "SignedRequest.nonce": \SignedRequest.nonce,
    "SignedRequest.signature": \SignedRequest.signature,
    "SignedRequest.content": \SignedRequest.content,
    "SignedRequest.digest": \SignedRequest.digest,
    // dictionary ClientConfig
    "ClientConfig.environment": \ClientConfig.environment,
    "ClientConfig.base_url": \ClientConfig.baseUrl,
    "ClientConfig.response_public_key": \ClientConfig.responsePublicKey,
    "ClientConfig.connect_timeout_ms": \ClientConfig.connectTimeoutMs,
    "ClientConfig.timeout_ms": \ClientConfig.timeoutMs,
    "ClientConfig.user_agent": \ClientConfig.userAgent,
    "ClientConfig.max_retries": \ClientConfig.maxRetries,
    "ClientConfig.retry_base_delay_ms": \ClientConfig.retryBaseDelayMs,
    "ClientConfig.retry_max_delay_ms": \ClientConfig.retryMaxDelayMs,
    "ClientConfig.total_timeout_ms": \ClientConfig.totalTimeoutMs,
    "ClientConfig.extra_ca_pem": \ClientConfig.extraCaPem,
    "ClientConfig.proxy_url": \ClientConfig.proxyUrl,
    // interface AppKey
    "AppKey.constructor(private_key_hex)": AppKey.init(privateKeyHex:),
    "AppKey.generate()": AppKey.generate,
    "AppKey.api_key()": AppKey.apiKey,
    "AppKey.private_key_hex()": AppKey.privateKeyHex,
    "AppKey.sign_request(method, path, query, body)": AppKey.signRequest(method:path:query:body:),
    "AppKey.sign_request_with_nonce(method, path, query, body, nonce)":
        AppKey.signRequestWithNonce(method:path:query:body:nonce:),
    // interface StoreKey
    "StoreKey.from_app_key(app_key)": StoreKey.fromAppKey(appKey:),
    "StoreKey.from_bytes(key)": StoreKey.fromBytes(key:),
    "StoreKey.seal(org_id, token)": StoreKey.seal(orgId:token:),
    "StoreKey.open(org_id, sealed)": StoreKey.open(orgId:sealed:),
    // interface ResponseVerifier
    "ResponseVerifier.constructor(environment)": ResponseVerifier.init(environment:),
    "ResponseVerifier.with_key(public_key_hex)": ResponseVerifier.withKey(publicKeyHex:),
    "ResponseVerifier.verify(body, timestamp, signature)": ResponseVerifier.verify(body:timestamp:signature:),
    "ResponseVerifier.verify_delivery(body, headers, max_age_secs)":
        ResponseVerifier.verifyDelivery(body:headers:maxAgeSecs:),
    // interface OAuthClient
    "OAuthClient.constructor(key, config)": OAuthClient.init(key:config:),
    "OAuthClient.base_url()": OAuthClient.baseUrl,
    "OAuthClient.get_org_token(client_id, org_id)": OAuthClient.getOrgToken(clientId:orgId:),
    "OAuthClient.refresh_org_token(client_id, refresh_token)": OAuthClient.refreshOrgToken(clientId:refreshToken:),
    // [Trait, WithForeign] interface TokenStore: a protocol Swift classes implement
    "TokenStore.load(org_id)": { (store: any TokenStore) in store.load(orgId:) },
    "TokenStore.save(org_id, token)": { (store: any TokenStore) in store.save(orgId:token:) },
    "TokenStore.delete(org_id)": { (store: any TokenStore) in store.delete(orgId:) },
    // [Trait, WithForeign] interface CoordinatedTokenStore: a protocol Swift classes implement
    "CoordinatedTokenStore.load_versioned(org_id)": { (store: any CoordinatedTokenStore) in store.loadVersioned(orgId:) },
    "CoordinatedTokenStore.save_if_version(org_id, token, expected_version)": { (store: any CoordinatedTokenStore) in
        store.saveIfVersion(orgId:token:expectedVersion:)
    },
    "CoordinatedTokenStore.delete(org_id)": { (store: any CoordinatedTokenStore) in store.delete(orgId:) },
    "CoordinatedTokenStore.acquire_lease(org_id, owner, ttl_ms)": { (store: any CoordinatedTokenStore) in
        store.acquireLease(orgId:owner:ttlMs:)
    },
    "CoordinatedTokenStore.extend_lease(org_id, owner, ttl_ms)": { (store: any CoordinatedTokenStore) in
        store.extendLease(orgId:owner:ttlMs:)
    },
    "CoordinatedTokenStore.release_lease(org_id, owner)": { (store: any CoordinatedTokenStore) in
        store.releaseLease(orgId:owner:)
    },
    // interface TokenManager
    "TokenManager.constructor(client, client_id, store, config)": TokenManager.init(client:clientId:store:config:),
    "TokenManager.access_token(org_id)": TokenManager.accessToken(orgId:),
    "TokenManager.authorization_header(org_id)": TokenManager.authorizationHeader(orgId:),
    "TokenManager.token(org_id)": TokenManager.token(orgId:),
    "TokenManager.refresh_token_expires_at(org_id)": TokenManager.refreshTokenExpiresAt(orgId:),
    "TokenManager.lease(org_id)": TokenManager.lease(orgId:),
    "TokenManager.invalidate(org_id, access_token)": TokenManager.invalidate(orgId:accessToken:),
    "TokenManager.forget(org_id)": TokenManager.forget(orgId:),
    // interface AsyncTokenManager ([Async] methods are `async throws`)
    "AsyncTokenManager.constructor(manager)": AsyncTokenManager.init(manager:),
    "AsyncTokenManager.access_token(org_id)": AsyncTokenManager.accessToken(orgId:),
    "AsyncTokenManager.authorization_header(org_id)": AsyncTokenManager.authorizationHeader(orgId:),
    "AsyncTokenManager.token(org_id)": AsyncTokenManager.token(orgId:),
    "AsyncTokenManager.cached_access_token(org_id)": AsyncTokenManager.cachedAccessToken(orgId:),
    // interface AsyncOAuthClient ([Async] methods: `async throws`)
    "AsyncOAuthClient.constructor(client)": AsyncOAuthClient.init(client:),
    "AsyncOAuthClient.get_org_token(client_id, org_id)": AsyncOAuthClient.getOrgToken(clientId:orgId:),
    "AsyncOAuthClient.refresh_org_token(client_id, refresh_token)": AsyncOAuthClient.refreshOrgToken(clientId:refreshToken:),
]

final class UdlParityTests: XCTestCase {
    func testEveryUdlNameHasASwiftReference() throws {
        let udl = try UdlSurface(text: String(contentsOfFile: try TestEnvironment.require("COBO_OAUTH_UDL"), encoding: .utf8))
        let udlNames = Set(udl.names)
        XCTAssertGreaterThan(udlNames.count, 60, "the UDL parser found too little: \(udl.names)")
        let swiftNames = Set(swiftReferences.keys)
        XCTAssertEqual(udlNames.subtracting(swiftNames).sorted(), [], "in the UDL, missing from the Swift table")
        XCTAssertEqual(swiftNames.subtracting(udlNames).sorted(), [], "in the Swift table, not in the UDL")
    }

    /// ClientConfig() and TokenManagerConfig() carry the UDL's defaults.
    func testConfigDefaultsMatchTheUdl() throws {
        let udl = try UdlSurface(text: String(contentsOfFile: try TestEnvironment.require("COBO_OAUTH_UDL"), encoding: .utf8))
        let records: [(String, Any, Int)] = [("ClientConfig", ClientConfig(), 12), ("TokenManagerConfig", TokenManagerConfig(), 5)]
        for (record, swiftValue, count) in records {
            let defaults = udl.defaults[record] ?? [:]
            XCTAssertEqual(defaults.count, count, record)
            let swiftDefaults = Dictionary(
                uniqueKeysWithValues: Mirror(reflecting: swiftValue).children.compactMap { child in
                    child.label.map { ($0, UdlSurface.literal(child.value)) }
                })
            for (field, udlDefault) in defaults {
                XCTAssertEqual(swiftDefaults[UdlSurface.camelCase(field)], udlDefault, "\(record).\(field)")
            }
        }
    }

    /// The TokenManager constructor's optional arguments default to nil, as in the UDL.
    func testOptionalArgumentsAreOptionalInSwift() throws {
        let udl = try UdlSurface(text: String(contentsOfFile: try TestEnvironment.require("COBO_OAUTH_UDL"), encoding: .utf8))
        XCTAssertEqual(udl.argumentDefaults["TokenManager.constructor"], ["store": "nil", "config": "nil"])
        let mock = try MockServer.fromEnvironment()
        let client = try OAuthClient(key: AppKey.generate(), config: mock.config())
        XCTAssertNoThrow(try TokenManager(client: client, clientId: "c"))
    }
}

/// The names a UDL file declares, in the spelling of the table above. Handles what this
/// project's UDL uses: a namespace, [Custom] typedefs, enums, [Error] interfaces with
/// fields, dictionaries (with defaults) and interfaces, [Trait, WithForeign] ones included
/// (constructors, [Name=] constructors, methods; nullable types such as `timestamp?`;
/// `optional T? name = null` arguments).
struct UdlSurface {
    private(set) var names: [String] = []
    /// "Interface.method" -> argument -> default literal, for arguments declared `= value`.
    private(set) var argumentDefaults: [String: [String: String]] = [:]
    /// dictionary -> field -> default literal (normalized by `literal`).
    private(set) var defaults: [String: [String: String]] = [:]

    init(text: String) throws {
        let code = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in line.range(of: "//").map { String(line[..<$0.lowerBound]) } ?? String(line) }
            .joined(separator: "\n")
        for typedef in Self.matches(#"\[Custom\]\s*typedef\s+\S+\s+(\w+)\s*;"#, in: code) {
            names.append(typedef[1])
        }
        let block = #"((?:\[[^\]]*\]\s*)*)(namespace|dictionary|enum|interface)\s+(\w+)\s*\{([^}]*)\}\s*;"#
        for match in Self.matches(block, in: code) {
            let (attributes, kind, name, body) = (match[1], match[2], match[3], match[4])
            switch (kind, attributes.contains("Error")) {
            case ("namespace", _):
                for member in Self.members(body) {
                    let (_, function, arguments) = try Self.signature(member)
                    names.append("\(name).\(function)(\(arguments.joined(separator: ", ")))")
                }
            case ("enum", _):
                for variant in body.split(separator: ",") {
                    let variant = variant.trimmingCharacters(in: .whitespacesAndNewlines.union(["\""]))
                    if !variant.isEmpty { names.append("\(name).\(variant)") }
                }
            case ("interface", true):
                for member in Self.members(body) {
                    let (_, variant, fields) = try Self.signature("void " + member)
                    names.append("\(name).\(variant)(\(fields.joined(separator: ", ")))")
                }
            case ("dictionary", _):
                for member in Self.members(body) {
                    let parts = member.split(separator: "=", maxSplits: 1).map {
                        $0.trimmingCharacters(in: .whitespacesAndNewlines)
                    }
                    guard let field = parts[0].split(separator: " ").last.map(String.init) else {
                        throw TestSetupError(description: "unparsed UDL field: \(member)")
                    }
                    names.append("\(name).\(field)")
                    if parts.count == 2 { defaults[name, default: [:]][field] = Self.literal(parts[1]) }
                }
            case ("interface", false):
                for member in Self.members(body) {
                    let renamed = Self.matches(#"Name\s*=\s*(\w+)"#, in: member).first?[1]
                    let (_, method, arguments) = try Self.signature(member)
                    let label = method == "constructor" ? (renamed ?? "constructor") : method
                    names.append("\(name).\(label)(\(arguments.joined(separator: ", ")))")
                    let defaults = try Self.defaultsOf(member)
                    if !defaults.isEmpty { argumentDefaults["\(name).\(label)"] = defaults }
                }
            default:
                throw TestSetupError(description: "unknown UDL block \(kind) \(name)")
            }
        }
    }

    /// `[attributes] ReturnType name(Type arg, optional Type? arg = null)` -> (return type,
    /// name, argument names).
    private static func signature(_ member: String) throws -> (String, String, [String]) {
        let (returnType, name, arguments) = try parts(member)
        return (returnType, name, try arguments.map { try argument($0).name })
    }

    /// The defaults of the member's `= value` arguments, normalized by `literal`.
    private static func defaultsOf(_ member: String) throws -> [String: String] {
        var defaults: [String: String] = [:]
        for text in try parts(member).arguments {
            let parsed = try argument(text)
            if let value = parsed.defaultValue { defaults[parsed.name] = literal(value) }
        }
        return defaults
    }

    private static func parts(_ member: String) throws -> (String, String, arguments: [String]) {
        let pattern = #"^(?:\[[^\]]*\]\s*)*(?:(\S+)\s+)?(\w+)\s*\(([^)]*)\)$"#
        guard let match = matches(pattern, in: member).first else {
            throw TestSetupError(description: "unparsed UDL member: \(member)")
        }
        let arguments = topLevelArguments(match[3]).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        return (match[1], match[2], arguments.filter { !$0.isEmpty })
    }

    /// The comma-separated arguments of a signature; commas inside `<...>`
    /// (`record<string, string>`) belong to a type.
    private static func topLevelArguments(_ text: String) -> [String] {
        var arguments: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "<": depth += 1
            case ">": depth -= 1
            case "," where depth == 0:
                arguments.append(current)
                current = ""
                continue
            default: break
            }
            current.append(character)
        }
        arguments.append(current)
        return arguments
    }

    /// `[attrs] optional? Type?? name (= default)?` -> its name and default.
    private static func argument(_ text: String) throws -> (name: String, defaultValue: String?) {
        let sides = text.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard let name = sides[0].split(whereSeparator: \.isWhitespace).last.map(String.init),
              name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
        else {
            throw TestSetupError(description: "unparsed UDL argument: \(text)")
        }
        return (name, sides.count == 2 ? sides[1] : nil)
    }

    /// The `;`-separated members of a block body, trimmed, empty ones dropped.
    private static func members(_ body: String) -> [String] {
        body.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    private static func matches(_ pattern: String, in text: String) -> [[String]] {
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines]) else { return [] }
        let range = NSRange(text.startIndex..., in: text)
        return regex.matches(in: text, range: range).map { match in
            (0..<match.numberOfRanges).map { i in
                Range(match.range(at: i), in: text).map { String(text[$0]) } ?? ""
            }
        }
    }

    static func camelCase(_ name: String) -> String {
        let words = name.split(separator: "_")
        return words.enumerated().map { $0 == 0 ? $1.lowercased() : $1.capitalized }.joined()
    }

    /// One spelling for a default from the UDL ("Prod", null, 5000) and a Swift value
    /// (.prod, nil, 5000): lower case, no quotes, "nil" for absent.
    static func literal(_ value: Any) -> String {
        if let text = value as? String, text == "null" { return "nil" }
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return "nil" }
            return literal(wrapped)
        }
        return String(describing: value).lowercased().trimmingCharacters(in: ["\""])
    }
}
