// Swift: the cobo-oauth binding, measured as bench/kotlin measures Kotlin, so that
// bench/report.py can set each figure against the Rust core's from the same run:
// - signing: AppKey.signRequest;
// - get_token round trips against the mock server (signed, response signature verified),
//   with p50/p99 latency;
// - TokenManager.accessToken on a fresh cached token;
// - the async forms of both (AsyncOAuthClient.getOrgToken, AsyncTokenManager.accessToken),
//   each measured in turns with its blocking form, with their ratios to the blocking ones.
// Usage: CoboOAuthBench --mock PATH --json PATH   (bench/swift/run.sh runs it in the chroot)
import CoboOAuth
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

let reps = 7
/// The async/sync round trips: their goal (within 10%) is finer than 7 turns resolve.
let roundTripReps = 21
let repNs: UInt64 = 300_000_000
let warmupNs: UInt64 = 500_000_000
let org = "bench-org"
let path = "/v2/oauth/token"
let query = "client_id=pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij&org_id=e3986401-4aec-480a-973d-e775a4518413&grant_type=org_implicit"

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

struct Figure {
    let id: String
    let label: String
    let rates: [Double]
    var latenciesNs: [UInt64] = []

    private func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let pos = q * Double(sorted.count - 1)
        let lo = Int(pos.rounded(.down)), hi = Int(pos.rounded(.up))
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - Double(lo))
    }

    private func percentileUs(_ q: Double) -> Double? {
        if latenciesNs.isEmpty { return nil }
        let sorted = latenciesNs.sorted()
        return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]) / 1e3
    }

    var json: [String: Any] {
        let sorted = rates.sorted()
        let median = quantile(sorted, 0.5)
        var fields: [String: Any] = [
            "id": id, "label": label, "unit": "ops/s", "reps": rates.count, "median": median,
            "q1": quantile(sorted, 0.25), "q3": quantile(sorted, 0.75), "min": sorted.first!, "max": sorted.last!,
            "ns_per_op": 1e9 / median,
        ]
        if let p50 = percentileUs(0.5), let p99 = percentileUs(0.99) {
            fields["p50_us"] = p50
            fields["p99_us"] = p99
        }
        return fields
    }

    func print() {
        let sorted = rates.sorted()
        var line = "  " + label.padding(toLength: 46, withPad: " ", startingAt: 0)
        line += String(format: " %12.1f ops/s [%.1f–%.1f]", quantile(sorted, 0.5), quantile(sorted, 0.25), quantile(sorted, 0.75))
        if let p50 = percentileUs(0.5), let p99 = percentileUs(0.99) {
            line += String(format: "  p50 %.0f us  p99 %.0f us", p50, p99)
        }
        Swift.print(line)
    }
}

/// One repetition of a figure: calls for `durationNs`, giving the calls per second and each
/// call's latency (or none, for operations of microseconds).
typealias Repetition = (_ durationNs: UInt64) throws -> (Double, [UInt64])

/// Calls back to back, untimed per call.
func backToBack(_ op: @escaping () throws -> Void) -> Repetition {
    return { duration in
        let start = now()
        var calls = 0
        while now() - start < duration {
            for _ in 0..<16 { try op() }
            calls += 16
        }
        return (Double(calls) * 1e9 / Double(now() - start), [])
    }
}

/// Sequential calls, with every call's latency.
func oneByOne(_ op: @escaping () throws -> Void) -> Repetition {
    return { duration in
        var latencies: [UInt64] = []
        let start = now()
        while true {
            let began = now()
            if began - start >= duration { break }
            try op()
            latencies.append(now() - began)
        }
        return (Double(latencies.count) * 1e9 / Double(now() - start), latencies)
    }
}

/// As `oneByOne` (or `backToBack` without `latencies`), for an async operation awaited in
/// one task on the cooperative pool.
func inATask(latencies keep: Bool, _ op: @escaping @Sendable () async throws -> Void) -> Repetition {
    return { duration in
        try blockingOn {
            var latencies: [UInt64] = []
            var calls = 0
            let start = now()
            while true {
                let began = now()
                if began - start >= duration { break }
                if keep {
                    try await op()
                    calls += 1
                    latencies.append(now() - began)
                } else {
                    for _ in 0..<16 { try await op() }
                    calls += 16
                }
            }
            return (Double(calls) * 1e9 / Double(now() - start), latencies)
        }
    }
}

/// Each contender warmed up, then `turns` repetitions taken in turns (A B A B ...), so that
/// a change in the machine's load hits them alike.
func measure(_ contenders: [(id: String, label: String, run: Repetition)], turns: Int = reps) throws -> [Figure] {
    for contender in contenders { _ = try contender.run(warmupNs) }
    var rates = contenders.map { _ in [Double]() }, latencies = contenders.map { _ in [UInt64]() }
    for _ in 0..<turns {
        for (i, contender) in contenders.enumerated() {
            let (rate, times) = try contender.run(repNs)
            rates[i].append(rate)
            latencies[i] += times
        }
    }
    return contenders.enumerated().map { i, contender in
        Figure(id: contender.id, label: contender.label, rates: rates[i], latenciesNs: latencies[i])
    }
}

/// Runs `body` in a task on the cooperative pool and waits for it on this (main) thread.
func blockingOn<T>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>(), done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

final class ResultBox<T>: @unchecked Sendable { var result: Result<T, Error>? }

/// One cobo-oauth-mock process; it exits when its stdin closes.
final class MockServer {
    let process = Process()
    let stdin = Pipe()
    let baseUrl: String, controlUrl: String, responsePublicKey: String

    init(binary: String) throws {
        let stdout = Pipe()
        process.executableURL = URL(fileURLWithPath: binary)
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while let byte = try stdout.fileHandleForReading.read(upToCount: 1), let b = byte.first, b != 10 {
            line.append(b)
        }
        guard let info = try JSONSerialization.jsonObject(with: line) as? [String: Any],
              let base = info["base_url"] as? String, let control = info["control_url"] as? String,
              let key = info["response_public_key"] as? String
        else { throw BenchError("the mock printed no JSON line") }
        (baseUrl, controlUrl, responsePublicKey) = (base, control, key)
    }

    func register(clientId: String, apiKey: String) throws {
        var request = URLRequest(url: URL(string: controlUrl + "/apps")!, timeoutInterval: 30)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: ["client_id": clientId, "api_key": apiKey, "orgs": [org]])
        final class Box: @unchecked Sendable { var status = 0 }
        let box = Box(), done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { _, response, _ in
            box.status = (response as? HTTPURLResponse)?.statusCode ?? 0
            done.signal()
        }.resume()
        done.wait()
        guard box.status == 200 else { throw BenchError("registering \(clientId): HTTP \(box.status)") }
    }

    /// A client with a fresh key (above 1000 requests/s a key's nonces run ahead of the clock).
    func client(_ clientId: String) throws -> OAuthClient {
        let key = try AppKey.generate()
        try register(clientId: clientId, apiKey: key.apiKey())
        return try OAuthClient(key: key, config: ClientConfig(baseUrl: baseUrl, responsePublicKey: responsePublicKey))
    }

    func close() {
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func argument(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

guard let mockBinary = argument("--mock"), let jsonOut = argument("--json") else {
    print("usage: CoboOAuthBench --mock PATH --json PATH")
    exit(2)
}
var figures: [Figure] = []
func add(_ figure: Figure) {
    figures.append(figure)
    figure.print()
}

print("Swift \(swiftVersion()): cobo-oauth (Swift binding); median of \(reps) (async/sync round trips: \(roundTripReps)) x \(repNs / 1_000_000) ms after \(warmupNs / 1_000_000) ms warm-up [quartiles]")
let signingKey = try AppKey.generate() // signs only: its nonces run ahead of the clock
try measure([("swift.sign.ours", "sign: AppKey.signRequest", backToBack {
    _ = signingKey.signRequest(method: "GET", path: path, query: query, body: "")
})]).forEach(add)
let mock = try MockServer(binary: mockBinary)
let client = try mock.client("swift-seq")
let first = try client.getOrgToken(clientId: "swift-seq", orgId: org)
precondition(first.tokenType == "Bearer")
let manager = try TokenManager(client: try mock.client("swift-manager"), clientId: "swift-manager", store: nil, config: nil)
_ = try manager.accessToken(orgId: org)
// Each async form in turns with its blocking one.
let asyncClient = AsyncOAuthClient(client: client)
try measure([
    ("swift.get_token.ours", "get_token round trip: OAuthClient", oneByOne {
        _ = try client.getOrgToken(clientId: "swift-seq", orgId: org)
    }),
    ("swift.get_token.async.ours", "get_token round trip: AsyncOAuthClient", inATask(latencies: true) {
        _ = try await asyncClient.getOrgToken(clientId: "swift-seq", orgId: org)
    }),
], turns: roundTripReps).forEach(add)
let tokens = AsyncTokenManager(manager: manager)
try measure([
    ("swift.access_token.ours", "TokenManager.accessToken (cached)", backToBack {
        _ = try manager.accessToken(orgId: org)
    }),
    ("swift.access_token.async.ours", "AsyncTokenManager.accessToken (cached)", inATask(latencies: false) {
        _ = try await tokens.accessToken(orgId: org)
    }),
]).forEach(add)
mock.close()
func median(_ id: String) -> Double { (figures.first { $0.id == id }!.json["median"] as? Double) ?? .nan }
// Each turn's async rate over the sync rate measured just before it: drift in the
// machine's speed between turns cancels out.
func rates(_ id: String) -> [Double] { figures.first { $0.id == id }!.rates }
let paired = zip(rates("swift.get_token.async.ours"), rates("swift.get_token.ours")).map { $0 / $1 }.sorted()
print(String(format: "  async/sync: accessToken (cached) %.2fx the time per call (goal <= 2), getOrgToken %.2fx the throughput (goal >= 0.9; paired turns' median %.2fx)",
             median("swift.access_token.ours") / median("swift.access_token.async.ours"),
             median("swift.get_token.async.ours") / median("swift.get_token.ours"),
             paired[paired.count / 2]))

func swiftVersion() -> String {
    #if compiler(>=6.0)
    return "6"
    #else
    return "5"
    #endif
}

let document: [String: Any] = [
    "language": "swift", "runtime": "Swift \(swiftVersion()) (release build, Linux)",
    "versions": ["cobo-oauth": "0.1.0"], "figures": figures.map(\.json),
]
try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
    .write(to: URL(fileURLWithPath: jsonOut))
