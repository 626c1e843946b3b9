// The README's short Swift fragments are regions of ReadmeFragments.swift, and they run
// against the mock server.

import CoboOAuth
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

final class ReadmeFragmentTests: XCTestCase {
    private func region(_ name: String) throws -> String {
        let file = TestEnvironment.packageRoot.appendingPathComponent("Tests/CoboOAuthTests/ReadmeFragments.swift")
        let source = try String(contentsOf: file, encoding: .utf8)
        let begin = try XCTUnwrap(source.range(of: "// \(name):begin\n"), "no \(name) region")
        let end = try XCTUnwrap(source.range(of: "// \(name):end", range: begin.upperBound..<source.endIndex))
        return String(source[begin.upperBound..<end.lowerBound])
    }

    private func temporaryPath() -> String {
        NSTemporaryDirectory() + "cobo-readme-\(UUID().uuidString).json"
    }

    func testTheReadmeShowsTheFragmentsVerbatim() throws {
        let readme = try String(contentsOf: TestEnvironment.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        for name in ["token-manager", "many-processes", "logging"] {
            let shown = "```swift\n" + (try region(name)) + "```"
            XCTAssertTrue(readme.contains(shown), "README.md must show the \(name) region of ReadmeFragments.swift verbatim")
        }
    }

    func testTheTokenManagerFragmentSetsTheHeaderAndItsReportCostsOneRenewal() throws {
        let mock = try MockServer.forTest()
        let orgId = "org-" + UUID().uuidString.lowercased()
        let app = try mock.newApp(orgs: [orgId])
        let client = try OAuthClient(key: app.key, config: mock.config())
        let tokenFile = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        var request = URLRequest(url: try XCTUnwrap(URL(string: mock.baseURL + "/wallets")))

        let (manager, sent) = try tokenManagerFragment(
            client: client, clientId: app.clientId, orgId: orgId, tokenFile: tokenFile, request: &request)
        XCTAssertEqual(request.value(forHTTPHeaderField: "Authorization"), "Bearer \(sent.value)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: tokenFile), "the file store wrote nothing")
        // The fragment reported the token it sent: asking again renews it, once.
        let renewed = try manager.accessToken(orgId: orgId)
        XCTAssertNotEqual(renewed.value, sent.value)
        let counters = try mock.counters()
        XCTAssertEqual(counters["get"], 1)
        XCTAssertEqual(counters["refresh"], 1)
    }

    func testEachStoreOfTheManyProcessesFragmentServesTheOrg() throws {
        let mock = try MockServer.forTest()
        let orgId = "org-" + UUID().uuidString.lowercased()
        let app = try mock.newApp(orgs: [orgId])
        let client = try OAuthClient(key: app.key, config: mock.config())
        let tokenFile = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let pool = MapCoordinatedStore()

        let (manager, stores) = try manyProcessesFragment(
            client: client, clientId: app.clientId, tokenFile: tokenFile,
            redisURL: try TestEnvironment.require("COBO_OAUTH_REDIS_URL"), pool: pool)
        let onRedis = try manager.accessToken(orgId: orgId)
        // A second manager on the same Redis store adopts the token: no second grant.
        let again = try TokenManager(client: client, clientId: app.clientId, store: stores[1])
        XCTAssertEqual(try again.accessToken(orgId: orgId).value, onRedis.value)
        XCTAssertEqual(try mock.counters()["get"], 1)
        // The file and the database stores share nothing with Redis: one grant each.
        for store in [stores[0], stores[2]] {
            let other = try TokenManager(client: client, clientId: app.clientId, store: store)
            XCTAssertNotEqual(try other.accessToken(orgId: orgId).value, onRedis.value)
        }
        XCTAssertEqual(try mock.counters()["get"], 3)
        XCTAssertTrue(FileManager.default.fileExists(atPath: tokenFile), "the file store wrote nothing")
        XCTAssertEqual(pool.version(orgId), 1, "the database store holds the org's token")
    }

    /// Runs the logging fragment with this process's stderr sent to a file, and reads it.
    func testTheLoggingFragmentWritesEachRecordToStandardError() throws {
        let mock = try MockServer.forTest()
        let orgId = "org-" + UUID().uuidString.lowercased()
        let app = try mock.newApp(orgs: [orgId])
        let client = try OAuthClient(key: app.key, config: mock.config())
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        XCTAssertGreaterThanOrEqual(file, 0)
        let savedStderr = dup(2)
        dup2(file, 2)
        loggingFragment()
        let got = Result { try TokenManager(client: client, clientId: app.clientId).accessToken(orgId: orgId) }
        CoboOAuthLogging.uninstall()
        dup2(savedStderr, 2)
        close(savedStderr)
        close(file)
        _ = try got.get()
        let logged = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(logged.contains("cobo_oauth \(LogLevel.info) renewal succeeded org_id=\(orgId) "), logged)
    }
}
