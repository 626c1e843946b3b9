// Shared test plumbing: the environment scripts/test.sh passes, the mock server's control
// API, JSON fixtures, and a uniform view of CoboOAuthError for table-driven assertions.

import CoboOAuth
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
}

/// Values scripts/test.sh passes by environment.
enum TestEnvironment {
    static func require(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw TestSetupError(description: "\(name) is not set: run bindings-swift/scripts/test.sh")
        }
        return value
    }

    static func vectors(_ file: String) throws -> [[String: Any]] {
        let dir = try require("COBO_TEST_VECTORS")
        let object = try readJSON(URL(fileURLWithPath: dir).appendingPathComponent(file))
        guard let root = object as? [String: Any], let cases = root["cases"] as? [[String: Any]] else {
            throw TestSetupError(description: "\(file): no \"cases\" array")
        }
        return cases
    }

    static func readJSON(_ url: URL) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url))
    }

    /// The package's root directory (this file is Tests/CoboOAuthTests/Support.swift).
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }
}

/// Reads a string field of a JSON object, or throws naming the field.
func field<T>(_ object: [String: Any], _ name: String, as _: T.Type = String.self) throws -> T {
    guard let value = object[name] as? T else {
        throw TestSetupError(description: "missing or mistyped field \"\(name)\" in \(object)")
    }
    return value
}

/// The shared mock server (tests/mock-server), started by scripts/test.sh on the host.
struct MockServer {
    let baseURL: String
    let controlURL: String
    let responsePublicKey: String
    /// The HTTPS mock's throwaway CA (PEM); nil for the plain-HTTP mock.
    var caPem: String? = nil

    static func fromEnvironment() throws -> MockServer {
        MockServer(
            baseURL: try TestEnvironment.require("COBO_MOCK_BASE_URL"),
            controlURL: try TestEnvironment.require("COBO_MOCK_CONTROL_URL"),
            responsePublicKey: try TestEnvironment.require("COBO_MOCK_RESPONSE_PUBLIC_KEY")
        )
    }

    /// The second mock, serving /v2 over HTTPS (its control API stays plain HTTP), reset.
    static func tlsForTest() throws -> MockServer {
        let mock = MockServer(
            baseURL: try TestEnvironment.require("COBO_TLS_MOCK_BASE_URL"),
            controlURL: try TestEnvironment.require("COBO_TLS_MOCK_CONTROL_URL"),
            responsePublicKey: try TestEnvironment.require("COBO_TLS_MOCK_RESPONSE_PUBLIC_KEY"),
            caPem: try TestEnvironment.require("COBO_TLS_MOCK_CA_PEM")
        )
        try mock.reset()
        return mock
    }

    /// The third mock, with strict rotation (a spent refresh token presented again revokes
    /// its family) and 2 s access tokens, counters cleared: CoordinationTests' server.
    static func strictForTest() throws -> MockServer {
        let mock = MockServer(
            baseURL: try TestEnvironment.require("COBO_STRICT_MOCK_BASE_URL"),
            controlURL: try TestEnvironment.require("COBO_STRICT_MOCK_CONTROL_URL"),
            responsePublicKey: try TestEnvironment.require("COBO_STRICT_MOCK_RESPONSE_PUBLIC_KEY")
        )
        try mock.reset()
        return mock
    }

    /// The mock with its faults and counters cleared, for one test.
    static func forTest() throws -> MockServer {
        let mock = try fromEnvironment()
        try mock.reset()
        return mock
    }

    /// A client configuration pointed at the mock; retries are fast so tests stay quick.
    func config(
        connectTimeoutMs: UInt64 = 5000, timeoutMs: UInt64 = 30000, maxRetries: UInt32 = 2,
        retryBaseDelayMs: UInt64 = 10, retryMaxDelayMs: UInt64 = 50, userAgent: String? = nil,
        trustCA: Bool = true, proxyUrl: Secret? = nil
    ) -> ClientConfig {
        ClientConfig(
            environment: .prod, baseUrl: baseURL, responsePublicKey: responsePublicKey,
            connectTimeoutMs: connectTimeoutMs, timeoutMs: timeoutMs, userAgent: userAgent,
            maxRetries: maxRetries, retryBaseDelayMs: retryBaseDelayMs, retryMaxDelayMs: retryMaxDelayMs,
            extraCaPem: trustCA ? caPem : nil, proxyUrl: proxyUrl
        )
    }

    /// Clears queued faults and counters.
    func reset() throws {
        _ = try call("POST", "/reset", body: [:])
    }

    func registerApp(clientId: String, apiKey: String, orgs: [String]) throws {
        _ = try call("POST", "/apps", body: ["client_id": clientId, "api_key": apiKey, "orgs": orgs])
    }

    /// Queues `fault` (the mock's JSON shape, e.g. `{"kind": "server_error"}`) for the
    /// next `count` requests of `operation` ("get", "refresh" or "any").
    func injectFault(_ fault: Any, operation: String, count: Int = 1) throws {
        _ = try call("POST", "/faults", body: ["fault": fault, "count": count, "operation": operation])
    }

    /// The next `count` accepted protected (`/v2/wallets…`) answers arrive tampered.
    func tamper(count: Int = 1) throws {
        _ = try call("POST", "/tamper", body: ["count": count])
    }

    /// The access-token lifetime of tokens issued from now on (the mock's default: 43199).
    func setAccessTTL(_ seconds: Int) throws {
        _ = try call("POST", "/config", body: ["access_ttl_secs": seconds])
    }

    /// Moves the mock's clock (nonce window, expiry, `Biz-Timestamp`) `ms` from the host's.
    func setClockOffset(ms: Int) throws {
        _ = try call("POST", "/config", body: ["clock_offset_ms": ms])
    }

    /// Revokes every token family of `orgId` behind the clients' backs (`expireOnly`: expires
    /// its access tokens now); WaaS calls with them then get the 500 with error_code 2040.
    func revoke(orgId: String, expireOnly: Bool = false) throws {
        _ = try call("POST", "/revoke", body: ["org_id": orgId, "expire_only": expireOnly])
    }

    func counters() throws -> [String: Int] {
        guard let counters = try call("GET", "/counters", body: nil) as? [String: Int] else {
            throw TestSetupError(description: "GET /counters did not return an object of integers")
        }
        return counters
    }

    /// A fresh app (random key, unique client ID) installed in `orgs`.
    func newApp(orgs: [String] = ["org-1"]) throws -> (key: AppKey, clientId: String) {
        let key = try AppKey.generate()
        let clientId = "swift-" + UUID().uuidString.lowercased()
        try registerApp(clientId: clientId, apiKey: key.apiKey(), orgs: orgs)
        return (key, clientId)
    }

    /// One control request; throws unless the answer is a 200 with a JSON body.
    private func call(_ method: String, _ path: String, body: [String: Any]?) throws -> Any {
        guard let url = URL(string: controlURL + path) else {
            throw TestSetupError(description: "bad control URL \(controlURL + path)")
        }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = method
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (status, data) = try Self.send(request)
        guard status == 200 else {
            throw TestSetupError(
                description: "\(method) \(path): HTTP \(status) \(String(decoding: data, as: UTF8.self))")
        }
        return try JSONSerialization.jsonObject(with: data)
    }

    fileprivate static func send(_ request: URLRequest) throws -> (Int, Data) {
        final class Box: @unchecked Sendable {
            var result: Result<(Int, Data), Error> = .failure(TestSetupError(description: "no answer"))
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                box.result = .failure(error)
            } else {
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                box.result = .success((status, data ?? Data()))
            }
            done.signal()
        }.resume()
        done.wait()
        return try box.result.get()
    }
}

extension CoboOAuthError {
    /// The UDL's name of this case and its fields under their UDL (snake_case) names. The
    /// switch is exhaustive, so a case added to the UDL fails to compile here.
    var udlView: (variant: String, fields: [String: AnyHashable]) {
        switch self {
        case let .InvalidKey(reason):
            return ("InvalidKey", ["reason": reason])
        case let .InvalidArgument(reason):
            return ("InvalidArgument", ["reason": reason])
        case let .OAuth(status, error, errorDescription):
            return ("OAuth", ["status": Int(status), "error": error, "error_description": errorDescription])
        case let .Server(status, errorCode, errorMessage, errorId):
            return ("Server", ["status": Int(status), "error_code": Int(errorCode),
                               "error_message": errorMessage, "error_id": errorId])
        case let .Unavailable(status):
            return ("Unavailable", ["status": Int(status)])
        case let .Transport(reason):
            return ("Transport", ["reason": reason])
        case let .Timeout(reason):
            return ("Timeout", ["reason": reason])
        case let .InvalidResponse(status, reason):
            return ("InvalidResponse", ["status": Int(status), "reason": reason])
        case let .ResponseSignature(reason):
            return ("ResponseSignature", ["reason": reason])
        case let .Store(reason):
            return ("Store", ["reason": reason])
        case let .AuthorizationRequired(orgId, status, error, errorDescription):
            return ("AuthorizationRequired", ["org_id": orgId, "status": Int(status), "error": error,
                                              "error_description": errorDescription])
        case let .Internal(reason):
            return ("Internal", ["reason": reason])
        }
    }
}

/// Asserts that `expression` throws a CoboOAuthError and hands it to `check`.
func assertCoboError<T>(
    _ expression: @autoclosure () throws -> T, _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line, _ check: (CoboOAuthError) -> Void = { _ in }
) {
    XCTAssertThrowsError(try expression(), message(), file: file, line: line) { error in
        guard let error = error as? CoboOAuthError else {
            XCTFail("not a CoboOAuthError: \(error) \(message())", file: file, line: line)
            return
        }
        check(error)
    }
}

/// Everything Swift prints for `value`: description, debug description, dump, interpolation.
func allRenderings(_ value: Any) -> [String] {
    var dumped = ""
    dump(value, to: &dumped)
    var renderings = [String(describing: value), String(reflecting: value), dumped, "\(value)"]
    if let error = value as? Error {
        renderings.append(error.localizedDescription)
        if let localized = value as? LocalizedError {
            renderings.append(localized.errorDescription ?? "")
        }
    }
    return renderings
}

/// The test CONNECT proxy (`cobo-oauth-mock proxy`), started by scripts/test.sh on the host.
struct ConnectProxy {
    let proxyURL: String
    let controlURL: String

    static func fromEnvironment() throws -> ConnectProxy {
        ConnectProxy(
            proxyURL: try TestEnvironment.require("COBO_PROXY_URL"),
            controlURL: try TestEnvironment.require("COBO_PROXY_CONTROL_URL")
        )
    }

    /// `{"connect": [host:port…], "refused": n, "plaintext": ["METHOD host"…]}`.
    func seen() throws -> [String: Any] {
        try call("GET", "/seen")
    }

    func reset() throws {
        _ = try call("POST", "/reset")
    }

    private func call(_ method: String, _ path: String) throws -> [String: Any] {
        guard let url = URL(string: controlURL + path) else {
            throw TestSetupError(description: "bad proxy control URL \(controlURL + path)")
        }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = method
        let (status, data) = try MockServer.send(request)
        guard status == 200, let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestSetupError(description: "\(method) \(path): HTTP \(status)")
        }
        return object
    }
}

/// Waits until `done()` holds, asking every 10 ms. Tests wait on progress (the mock's
/// counters, a count of callers), never for a guessed time; the deadline is generous and
/// only turns a hang into a failure.
func waitFor(_ what: String, timeout: TimeInterval = 30, _ done: () throws -> Bool) throws {
    let until = Date().addingTimeInterval(timeout)
    while try !done() {
        guard Date() < until else { throw TestSetupError(description: "timed out waiting for \(what)") }
        Thread.sleep(forTimeInterval: 0.01)
    }
}

/// As `waitFor`, from a task: sleeps without holding a thread of the cooperative pool.
func waitFor(_ what: String, timeout: TimeInterval = 30, _ done: () throws -> Bool) async throws {
    let until = Date().addingTimeInterval(timeout)
    while try !done() {
        guard Date() < until else { throw TestSetupError(description: "timed out waiting for \(what)") }
        try await Task.sleep(nanoseconds: 10_000_000)
    }
}

/// A count that many threads or tasks bump.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func bump() { lock.lock(); count += 1; lock.unlock() }

    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

/// Runs `body` in a Task and waits for it on this thread, which must not be one of the
/// cooperative pool's (a synchronous test method's is not).
func awaitBlocking<T>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// Starts the CoordinationWorker executable with `arguments`; the app's private key goes by
/// environment ($COBO_TEST_PRIVATE_KEY), never on the command line.
func startCoordinationWorker(arguments: [String], key: AppKey, environment extra: [String: String] = [:]) throws
    -> (process: Process, stdout: Pipe)
{
    // SwiftPM puts the test bundle and the executables in the same directory.
    let executable = Bundle.main.bundleURL.appendingPathComponent("CoordinationWorker")
    guard FileManager.default.isExecutableFile(atPath: executable.path) else {
        throw TestSetupError(description: "not built: \(executable.path)")
    }
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["COBO_TEST_PRIVATE_KEY"] = key.privateKeyHex().value
    environment.merge(extra) { $1 }
    process.environment = environment
    let stdout = Pipe()
    process.standardOutput = stdout
    try process.run()
    return (process, stdout)
}

/// Waits for a worker started by `startCoordinationWorker` and parses the JSON object of
/// its last line, failing (with its output) unless it exited 0.
func finishCoordinationWorker(_ child: (process: Process, stdout: Pipe),
                              file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let output = String(decoding: child.stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    child.process.waitUntilExit()
    XCTAssertEqual(child.process.terminationStatus, 0, output, file: file, line: line)
    let last = try XCTUnwrap(output.split(separator: "\n").last, "the worker printed nothing", file: file, line: line)
    return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], String(last),
                         file: file, line: line)
}
