// AsyncTokenManager (async throws) on one TokenManager, against the shared mock server:
// one renewal for any number of tasks, the cooperative pool never blocked, no thread per
// waiter, cancelled tasks leave the rotated token saved, blocking and async callers share
// one request. Tests wait for the renewal's request to reach the mock (a delay fault then
// holds it), never for a guessed time.
// XCTest runs tests one at a time, so the thread counts are this test's own.

import CoboOAuth
import Foundation
import XCTest

final class AsyncTests: XCTestCase {
    private let org = "org-a"
    private var mock: MockServer!
    private var app: (key: AppKey, clientId: String)!
    private var store: SwiftTokenStore!
    private var manager: TokenManager!
    private var tokens: AsyncTokenManager!

    override func setUpWithError() throws {
        mock = try MockServer.forTest()
        app = try mock.newApp(orgs: [org])
        let client = try OAuthClient(key: app.key, config: mock.config(maxRetries: 0))
        store = SwiftTokenStore()
        // No backoff: a test may ask again at once after a failure.
        manager = try TokenManager(client: client, clientId: app.clientId, store: store,
                                   config: TokenManagerConfig(backoffInitialMs: 1, backoffMaxMs: 1))
        tokens = AsyncTokenManager(manager: manager)
    }

    override func tearDownWithError() throws {
        try mock?.reset()
    }

    /// A first token, then expired with invalidate (the next call renews it); counters reset.
    @discardableResult
    private func expire() throws -> StoredToken {
        let first = try manager.token(orgId: org)
        XCTAssertTrue(try manager.invalidate(orgId: org, accessToken: first.token.accessToken))
        try mock.reset()
        return first
    }

    private func counts() throws -> [Int] {
        let counters = try mock.counters()
        return [counters["refresh"] ?? -1, counters["get"] ?? -1]
    }

    private func delayNextRefresh(_ millis: Int) throws {
        try mock.injectFault(["kind": "delay", "delay_ms": millis], operation: "refresh")
    }

    /// Until the org's one refresh has reached the mock (a delay fault may still hold it).
    private func waitForTheRefresh() async throws {
        try await waitFor("the refresh to reach the mock") { try self.counts() == [1, 0] }
    }

    /// `count` concurrent tasks asking for the org's access token; their outcomes. Each
    /// bumps `started` as it makes its call.
    private func accessTokens(_ count: Int, started: Counter = Counter()) async -> [Result<Secret, Error>] {
        let tokens = self.tokens!, org = self.org
        return await withTaskGroup(of: Result<Secret, Error>.self) { group in
            for _ in 0..<count {
                group.addTask {
                    started.bump()
                    do { return .success(try await tokens.accessToken(orgId: org)) } catch { return .failure(error) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    func testAThousandTasksOnAnExpiredTokenShareOneRefresh() async throws {
        let old = try expire()
        let got = try await accessTokens(1000).map { try $0.get() }
        XCTAssertEqual(Set(got).count, 1, "all 1000 tasks got the same token")
        XCTAssertNotEqual(got.first, old.token.accessToken)
        XCTAssertEqual(try counts(), [1, 0], "(refresh, get)")
        XCTAssertEqual(store.saved.last?.token.accessToken, got.first, "the rotated token was saved")
        // Fresh now: every kind of call is served from the cache.
        let header = try await tokens.authorizationHeader(orgId: org)
        XCTAssertEqual(header.value, "Bearer \(got[0].value)")
        let whole = try await tokens.token(orgId: org)
        XCTAssertEqual(whole.token.accessToken, got.first)
        XCTAssertEqual(try manager.accessToken(orgId: org), got.first)
        XCTAssertEqual(try counts(), [1, 0])
    }

    /// Tasks that start after the quick 503 get the error the org's backoff (10 s here)
    /// recorded: the same one, with no second request.
    func testAThousandTasksShareOneFailedRefreshAndItsTypedError() async throws {
        manager = try TokenManager(client: try OAuthClient(key: app.key, config: mock.config(maxRetries: 0)),
                                   clientId: app.clientId, store: store,
                                   config: TokenManagerConfig(backoffInitialMs: 10000, backoffMaxMs: 10000))
        tokens = AsyncTokenManager(manager: manager)
        try expire()
        try mock.injectFault(["kind": "unsigned", "status": 503], operation: "refresh")
        let outcomes = await accessTokens(1000)
        let errors = outcomes.map { outcome -> CoboOAuthError? in
            if case let .failure(error) = outcome { return error as? CoboOAuthError }
            return nil
        }
        XCTAssertTrue(errors.allSatisfy { $0 == .Unavailable(status: 503) },
                      "every task gets Unavailable(503): \(Set(errors.map { "\(String(describing: $0))" }))")
        XCTAssertEqual(try counts(), [1, 0], "(refresh, get)")
    }

    /// While 1000 tasks wait for a renewal the mock holds, another task still runs to its
    /// end on the cooperative pool (one thread per core: had the waiters blocked their
    /// threads, it could not run before the renewal ended), and the process has nowhere
    /// near a thread per waiter. The 5 s delay only bounds how long that may take.
    func testThePoolIsNeverBlockedAndNoThreadWaitsPerTask() async throws {
        _ = await accessTokens(1000)   // warm up: the first renewal thread, the code paths
        try expire()
        try delayNextRefresh(5000)
        let threadsBefore = threadCount()
        let started = Counter()
        let waiters = Task { await self.accessTokens(1000, started: started) }
        try await waitFor("1000 tasks to call") { started.value == 1000 }
        try await waitForTheRefresh()
        let threadsWaiting = threadCount()
        let ranMeanwhile = await Task { () -> Int in
            var beats = 0
            for _ in 0..<10 {
                try? await Task.sleep(nanoseconds: 1_000_000)
                beats += 1
            }
            return beats
        }.value
        XCTAssertEqual(ranMeanwhile, 10)
        XCTAssertEqual(try mock.counters()["issued"], 0, "another task ran to its end while the renewal was in flight")
        let got = try await waiters.value.map { try $0.get() }
        print("AsyncTests: threads \(threadsBefore) before, \(threadsWaiting) while 1000 tasks waited")
        XCTAssertEqual(Set(got).count, 1)
        XCTAssertEqual(try counts(), [1, 0])
        XCTAssertLessThan(threadsWaiting - threadsBefore, 100, "no thread per waiting task (1000 of them)")
    }

    /// Swift does not carry a Task's cancellation into the Rust future: a cancelled task
    /// keeps waiting and gets the renewal's outcome. Either way the renewal runs to its end
    /// and saves the rotated token.
    func testCancelledTasksLeaveTheRotatedTokenSavedAndTheNextCallMakesNoRequest() async throws {
        let old = try expire()
        try delayNextRefresh(2000)
        let tokens = self.tokens!, org = self.org
        let started = Counter()
        let tasks = (0..<100).map { _ in
            Task {
                started.bump()
                return try await tokens.accessToken(orgId: org)
            }
        }
        try await waitFor("100 tasks to call") { started.value == 100 }
        try await waitForTheRefresh()
        tasks.forEach { $0.cancel() }
        var outcomes: [Result<Secret, Error>] = []
        for task in tasks { outcomes.append(await task.result) }
        let saved = try XCTUnwrap(store.saved.last)
        XCTAssertNotEqual(saved.token.refreshToken, old.token.refreshToken, "the rotated token was saved")
        for outcome in outcomes {
            switch outcome {
            case let .success(token): XCTAssertEqual(token, saved.token.accessToken)
            case let .failure(error): XCTAssertTrue(error is CancellationError, "\(error)")
            }
        }
        XCTAssertEqual(try counts(), [1, 0], "(refresh, get)")
        let next = try await tokens.accessToken(orgId: org)
        XCTAssertEqual(next, saved.token.accessToken)
        XCTAssertEqual(try manager.accessToken(orgId: org), saved.token.accessToken)
        XCTAssertEqual(try counts(), [1, 0], "served from the cache: no second request")
    }

    func testBlockingThreadsAndTasksShareOneRequest() async throws {
        let old = try expire()
        try delayNextRefresh(500)
        let manager = self.manager!, org = self.org
        let fromThreads = Collected()
        let threadsDone = DispatchGroup()
        for _ in 0..<16 {
            threadsDone.enter()
            Thread.detachNewThread {
                fromThreads.add(Result { try manager.accessToken(orgId: org) })
                threadsDone.leave()
            }
        }
        let fromTasks = try await accessTokens(500).map { try $0.get() }
        await withCheckedContinuation { done in threadsDone.notify(queue: .global()) { done.resume() } }
        let all = try fromThreads.results.map { try $0.get() } + fromTasks
        XCTAssertEqual(all.count, 516)
        XCTAssertEqual(Set(all).count, 1, "threads and tasks got the same token")
        XCTAssertNotEqual(all.first, old.token.accessToken)
        XCTAssertEqual(try counts(), [1, 0], "(refresh, get)")
    }

    /// A blocking call inside a task works: it blocks that task's thread (one of the
    /// cooperative pool's few) while the renewal runs, and the tasks waiting for the same
    /// renewal get the same token.
    func testABlockingCallInsideATaskWorksAndDoesNotHang() async throws {
        let old = try expire()
        try delayNextRefresh(1000)
        let tokens = self.tokens!, org = self.org
        let waiter = Task { try await tokens.accessToken(orgId: org) }
        try await waitForTheRefresh()   // the waiter started the renewal
        let fromBlocking = try manager.accessToken(orgId: org)   // blocks this task's thread
        let fromWaiter = try await waiter.value
        XCTAssertEqual(fromBlocking, fromWaiter, "the blocking call got the waiter's renewal")
        XCTAssertNotEqual(fromBlocking, old.token.accessToken)
        XCTAssertEqual(try counts(), [1, 0], "(refresh, get)")
    }

    /// cachedAccessToken answers only what accessToken would serve at once (which takes it
    /// first, before a future): nothing before the first token or after invalidate, and
    /// after it the renewal's token; no request either way.
    func testACachedTokenIsServedWithoutAFutureAndOnlyWhileFresh() async throws {
        XCTAssertNil(tokens.cachedAccessToken(orgId: org), "no token yet")
        let first = try await tokens.accessToken(orgId: org)
        XCTAssertEqual(tokens.cachedAccessToken(orgId: org), first)
        XCTAssertNil(tokens.cachedAccessToken(orgId: "another-org"))
        try mock.reset()
        let header = try await tokens.authorizationHeader(orgId: org)
        XCTAssertEqual(header.value, "Bearer " + first.value)
        let again = try await tokens.accessToken(orgId: org)
        XCTAssertEqual(again, first)
        XCTAssertEqual(try counts(), [0, 0], "served from the cache: (refresh, get)")
        XCTAssertTrue(try manager.invalidate(orgId: org, accessToken: first))
        XCTAssertNil(tokens.cachedAccessToken(orgId: org), "an invalidated token is not served")
        let renewed = try await tokens.accessToken(orgId: org)
        XCTAssertNotEqual(renewed, first)
        XCTAssertEqual(try counts(), [1, 0], "one renewal: (refresh, get)")
    }

    func testAnEmptyOrgIdIsRefusedWithATypedError() async throws {
        do {
            _ = try await tokens.accessToken(orgId: "")
            XCTFail("an empty org id was accepted")
        } catch let error as CoboOAuthError {
            XCTAssertEqual(error.udlView.variant, "InvalidArgument")
        }
    }
}

/// The process's thread count (`Threads:` in /proc/self/status).
func threadCount() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("Threads:") } ?? ""
    return Int(line.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) ?? -1
}

/// Results gathered from several threads.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var gathered: [Result<Secret, Error>] = []

    func add(_ result: Result<Secret, Error>) {
        lock.lock()
        gathered.append(result)
        lock.unlock()
    }

    var results: [Result<Secret, Error>] {
        lock.lock()
        defer { lock.unlock() }
        return gathered
    }
}
