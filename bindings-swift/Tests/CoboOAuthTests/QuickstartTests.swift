// The README's quickstarts are Sources/Quickstart/main.swift and (async/await)
// Sources/AsyncQuickstart/main.swift, verbatim; this builds them (as dependencies of the
// tests) and runs them against the mock server.

import Foundation
import XCTest

final class QuickstartTests: XCTestCase {
    func testReadmeSnippetIsTheQuickstartSource() throws {
        try assertReadmeShows("Sources/Quickstart/main.swift")
    }

    func testReadmeSnippetIsTheAsyncQuickstartSource() throws {
        try assertReadmeShows("Sources/AsyncQuickstart/main.swift")
    }

    /// The ```swift block after `<!-- quickstart: <path> -->` in README.md is the file at `path`.
    private func assertReadmeShows(_ path: String) throws {
        let marker = "<!-- quickstart: \(path) -->"
        let root = TestEnvironment.packageRoot
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
        let afterMarker = try XCTUnwrap(readme.range(of: marker), "README.md lacks \(marker)")
        let rest = readme[afterMarker.upperBound...]
        let open = try XCTUnwrap(rest.range(of: "```swift\n"), "no ```swift block after the marker")
        let close = try XCTUnwrap(rest[open.upperBound...].range(of: "\n```"), "unclosed code block")
        XCTAssertEqual(String(rest[open.upperBound..<close.lowerBound]) + "\n", source,
                       "README.md's snippet differs from \(path)")
    }

    func testQuickstartGetsAndRefreshesAToken() throws {
        let mock = try MockServer.forTest()
        let key = "92e6f715e9fbf16368aa5a02e5e765b13f7d9136aacd9417fdf2e90059c98fdd"
        let clientId = "quickstart-" + UUID().uuidString.lowercased()
        try mock.registerApp(
            clientId: clientId, apiKey: "eb4f24e8cbe5b5c40c6a4a0574ed1d91937971be78cd1b9e1a8e096b584697db",
            orgs: ["org-quickstart"])
        let environment = [
            "COBO_APP_PRIVATE_KEY": key, "COBO_CLIENT_ID": clientId, "COBO_ORG_ID": "org-quickstart",
            "COBO_BASE_URL": mock.baseURL, "COBO_RESPONSE_PUBLIC_KEY": mock.responsePublicKey,
        ]

        let ok = try runQuickstart(environment)
        XCTAssertEqual(ok.status, 0, ok.output)
        XCTAssertTrue(ok.output.contains("got a Bearer token, expires in 43199 s"), ok.output)
        XCTAssertTrue(ok.output.contains("refreshed, expires at "), ok.output)
        XCTAssertEqual(try mock.counters()["issued"], 2)

        // Its error path: an organization that did not install the app.
        var uninstalled = environment
        uninstalled["COBO_ORG_ID"] = "org-elsewhere"
        let refused = try runQuickstart(uninstalled)
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("Cobo refused the request (403 unauthorized_client)"), refused.output)

        let unconfigured = try runQuickstart([:])
        XCTAssertEqual(unconfigured.status, 2, unconfigured.output)
    }

    func testAsyncQuickstartSharesOneRequestBetweenItsTasks() throws {
        let mock = try MockServer.forTest()
        let app = try mock.newApp(orgs: ["org-async"])
        let environment = [
            "COBO_APP_PRIVATE_KEY": app.key.privateKeyHex().value, "COBO_CLIENT_ID": app.clientId,
            "COBO_ORG_ID": "org-async", "COBO_BASE_URL": mock.baseURL,
            "COBO_RESPONSE_PUBLIC_KEY": mock.responsePublicKey,
        ]
        let ok = try runQuickstart(environment, executable: "AsyncQuickstart")
        XCTAssertEqual(ok.status, 0, ok.output)
        XCTAssertTrue(ok.output.contains("100 tasks, 1 distinct header"), ok.output)
        XCTAssertEqual(try mock.counters()["get"], 1)

        var uninstalled = environment
        uninstalled["COBO_ORG_ID"] = "org-elsewhere"
        let refused = try runQuickstart(uninstalled, executable: "AsyncQuickstart")
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("the organization org-elsewhere must authorize the app again"), refused.output)

        XCTAssertEqual(try runQuickstart([:], executable: "AsyncQuickstart").status, 2)
    }

    private func runQuickstart(
        _ environment: [String: String], executable name: String = "Quickstart"
    ) throws -> (status: Int32, output: String) {
        // SwiftPM puts the test bundle and the executables in the same directory.
        let executable = Bundle.main.bundleURL.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw TestSetupError(description: "not built: \(executable.path)")
        }
        let process = Process()
        process.executableURL = executable
        process.environment = environment.merging(
            ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]) { own, _ in own }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
