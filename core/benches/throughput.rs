//! The Rust core alone: the floor the bindings approach. Part of `make bench`
//! (bench/run.sh), which compares it with the Python and Kotlin bindings and with Cobo's
//! official SDKs; runs on its own too:
//!
//!     cargo bench -p cobo-oauth --bench throughput [-- --mock target/release/cobo-oauth-mock --json out.json]
//!
//! Every figure is the median of several timed repetitions after a warm-up, with the
//! quartiles and the extremes, measured in this one run:
//! - signing: `AppKey::sign_request` vs the bare double SHA-256 + Ed25519 it wraps;
//! - `get_org_token` round trips (sign, send, verify, parse) against the mock server,
//!   sequential and from 8 threads sharing one client, with p50/p99 latency, vs an
//!   unsigned GET of the mock's /_mock/info over an equally pooled reqwest client;
//!   `AsyncOAuthClient::get_org_token` in turns with the sequential one;
//! - `TokenManager::access_token` on a fresh cached token, and its latency (p50/p99)
//!   while a renewal of that token is in flight against a server that takes 2 s,
//!   against the same latency on the fresh token.
//!
//! With `--mock PATH` it starts that mock binary (as the Python and Kotlin benchmarks do);
//! without, the mock runs in this process.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cobo_oauth::{AppKey, ClientConfig, OAuthClient, TokenManager};
use cobo_oauth_mock::{App, MockConfig, MockServer};
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

const REPS: usize = 7;
/// The async/sync round trips: their goal (within 10%) is finer than 7 turns resolve.
const ROUND_TRIP_REPS: usize = 21;
const REP_TIME: Duration = Duration::from_millis(300);
const WARMUP: Duration = Duration::from_millis(500);
const THREADS: usize = 8;
const ORG: &str = "bench-org";
const QUERY: &str = "client_id=pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij&org_id=e3986401-4aec-480a-973d-e775a4518413&grant_type=org_implicit";

/// One measured figure: per-repetition rates (operations per second) and, for round
/// trips, every call's latency.
struct Figure {
    id: &'static str,
    label: &'static str,
    rates: Vec<f64>,
    latencies_ns: Vec<u64>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl Figure {
    fn stats(&self) -> [f64; 5] {
        let mut r = self.rates.clone();
        r.sort_by(|a, b| a.total_cmp(b));
        [quantile(&r, 0.5), quantile(&r, 0.25), quantile(&r, 0.75), r[0], r[r.len() - 1]]
    }

    fn percentile_us(&self, q: f64) -> Option<f64> {
        if self.latencies_ns.is_empty() {
            return None;
        }
        let mut l: Vec<f64> = self.latencies_ns.iter().map(|&ns| ns as f64 / 1e3).collect();
        l.sort_by(|a, b| a.total_cmp(b));
        Some(quantile(&l, q))
    }

    fn json(&self) -> serde_json::Value {
        let [median, q1, q3, min, max] = self.stats();
        serde_json::json!({
            "id": self.id, "label": self.label, "unit": "ops/s", "reps": self.rates.len(),
            "median": median, "q1": q1, "q3": q3, "min": min, "max": max,
            "ns_per_op": 1e9 / median,
            "p50_us": self.percentile_us(0.5), "p99_us": self.percentile_us(0.99),
        })
    }

    fn print(&self) {
        let [median, q1, q3, ..] = self.stats();
        let latency = match (self.percentile_us(0.5), self.percentile_us(0.99)) {
            (Some(p50), Some(p99)) => format!("   p50 {p50:7.1} us  p99 {p99:7.1} us"),
            _ => String::new(),
        };
        println!(
            "{:<40} {median:>12.0} ops/s [{q1:.0}–{q3:.0}]  {:>9.0} ns/op{latency}",
            self.label,
            1e9 / median
        );
    }
}

/// Rates of `op` run back to back: a warm-up, then `REPS` repetitions of `REP_TIME`.
fn rate(id: &'static str, label: &'static str, mut op: impl FnMut()) -> Figure {
    let until = Instant::now() + WARMUP;
    while Instant::now() < until {
        op();
    }
    let rates = (0..REPS)
        .map(|_| {
            let (start, mut calls) = (Instant::now(), 0u64);
            while start.elapsed() < REP_TIME {
                for _ in 0..16 {
                    op();
                }
                calls += 16;
            }
            calls as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    Figure { id, label, rates, latencies_ns: Vec::new() }
}

/// As `rate`, from `threads` threads at once, recording every call's latency.
fn round_trips(id: &'static str, label: &'static str, threads: usize, op: impl Fn() + Sync) -> Figure {
    let mut figures = round_trips_in_turns(&[(id, label, &op)], threads, REPS);
    figures.remove(0)
}

/// As `round_trips`, for several operations whose `reps` repetitions take turns (A B A B
/// ...), so that a change in the machine's load hits them alike.
fn round_trips_in_turns(
    operations: &[(&'static str, &'static str, &(dyn Fn() + Sync))],
    threads: usize,
    reps: usize,
) -> Vec<Figure> {
    let run = |op: &(dyn Fn() + Sync), duration: Duration| -> (f64, Vec<u64>) {
        let start_line = Barrier::new(threads + 1);
        let per_thread: Vec<Vec<u64>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        start_line.wait();
                        let (start, mut latencies) = (Instant::now(), Vec::new());
                        while start.elapsed() < duration {
                            let call = Instant::now();
                            op();
                            latencies.push(call.elapsed().as_nanos() as u64);
                        }
                        latencies
                    })
                })
                .collect();
            start_line.wait();
            workers.into_iter().map(|w| w.join().expect("worker")).collect()
        });
        let calls: usize = per_thread.iter().map(Vec::len).sum();
        (calls as f64 / duration.as_secs_f64(), per_thread.concat())
    };
    operations.iter().for_each(|(_, _, op)| drop(run(*op, WARMUP)));
    let mut figures: Vec<Figure> = operations
        .iter()
        .map(|&(id, label, _)| Figure { id, label, rates: Vec::new(), latencies_ns: Vec::new() })
        .collect();
    for _ in 0..reps {
        for ((_, _, op), figure) in operations.iter().zip(&mut figures) {
            let (r, l) = run(*op, REP_TIME);
            figure.rates.push(r);
            figure.latencies_ns.extend(l);
        }
    }
    figures
}

/// Every call's latency, calling `op` back to back for `span`.
fn latencies_for(span: Duration, mut op: impl FnMut()) -> Vec<u64> {
    let mut latencies = Vec::new();
    let end = Instant::now() + span;
    while Instant::now() < end {
        let started = Instant::now();
        op();
        latencies.push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }
    latencies
}

fn latency_figure(id: &'static str, label: &'static str, latencies_ns: Vec<u64>) -> Figure {
    let total_s = latencies_ns.iter().sum::<u64>() as f64 / 1e9;
    Figure { id, label, rates: vec![latencies_ns.len() as f64 / total_s.max(1e-9)], latencies_ns }
}

/// The mock server: the binary given with `--mock` (stdin piped: it exits when we do),
/// or one in this process.
enum Mock {
    Process { child: Child, base_url: String, control_url: String, response_public_key: String },
    InProcess(MockServer),
}

impl Mock {
    fn start(binary: Option<&str>) -> Mock {
        let Some(binary) = binary else {
            return Mock::InProcess(MockServer::start(MockConfig::default()).expect("mock server"));
        };
        let mut child = Command::new(binary)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("start line");
        let info: serde_json::Value = serde_json::from_str(&line).expect("start line JSON");
        let field = |name: &str| info[name].as_str().expect("start line field").to_owned();
        Mock::Process {
            base_url: field("base_url"),
            control_url: field("control_url"),
            response_public_key: field("response_public_key"),
            child,
        }
    }

    fn base_url(&self) -> String {
        match self {
            Mock::Process { base_url, .. } => base_url.clone(),
            Mock::InProcess(server) => server.base_url(),
        }
    }

    fn control_url(&self) -> String {
        match self {
            Mock::Process { control_url, .. } => control_url.clone(),
            Mock::InProcess(server) => server.control_url(),
        }
    }

    fn response_public_key(&self) -> String {
        match self {
            Mock::Process { response_public_key, .. } => response_public_key.clone(),
            Mock::InProcess(server) => server.response_public_key(),
        }
    }

    /// A fresh key registered for `client_id`. A key of its own per benchmark: above
    /// 1000 requests/s its nonces run ahead of the clock, and the mock's window is 60 s.
    fn app(&self, client_id: &str) -> Arc<AppKey> {
        self.app_in(client_id, vec![ORG.into()])
    }

    /// An app (a fresh key) that `orgs` installed.
    fn app_in(&self, client_id: &str, orgs: Vec<String>) -> Arc<AppKey> {
        let key = Arc::new(AppKey::generate().expect("key"));
        let app = App { client_id: client_id.into(), api_key: key.api_key(), orgs };
        match self {
            Mock::InProcess(server) => server.register_app(app),
            Mock::Process { control_url, .. } => {
                reqwest::blocking::Client::new()
                    .post(format!("{control_url}/apps"))
                    .body(serde_json::to_string(&app).expect("app JSON"))
                    .send()
                    .and_then(|r| r.error_for_status())
                    .expect("register app");
            }
        }
        key
    }

    /// POST to the mock's control API (faults, config).
    fn control(&self, path: &str, body: serde_json::Value) {
        match self {
            Mock::InProcess(server) if path == "/faults" => {
                let fault = serde_json::from_value(body["fault"].clone()).expect("fault");
                server.inject_for(fault, 1, cobo_oauth_mock::FaultTarget::Refresh);
            }
            Mock::InProcess(server) => {
                server.set_token_ttls(body["access_ttl_secs"].as_u64().expect("ttl"), 30 * 24 * 3600)
            }
            Mock::Process { control_url, .. } => {
                reqwest::blocking::Client::new()
                    .post(format!("{control_url}{path}"))
                    .body(body.to_string())
                    .send()
                    .and_then(|r| r.error_for_status())
                    .expect("control call");
            }
        }
    }

    fn client(&self, key: Arc<AppKey>) -> OAuthClient {
        OAuthClient::new(key, ClientConfig::for_base_url(self.base_url(), self.response_public_key())).expect("client")
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        if let Mock::Process { child, .. } = self {
            drop(child.stdin.take()); // the mock exits when its stdin closes
            let _ = child.wait();
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut mock_binary, mut json_out) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--mock" => mock_binary = args.next(),
            "--json" => json_out = args.next(),
            _ => {} // cargo bench passes --bench
        }
    }
    let mut figures = Vec::new();

    let bare_key = SigningKey::from_bytes(&[7u8; 32]);
    figures.push(rate("rust.sign.bare", "bare sha256²+ed25519 (reference)", || {
        let content = format!("GET|/v2/oauth/token|1718000000000|{QUERY}|");
        let digest = Sha256::digest(Sha256::digest(content.as_bytes()));
        black_box(bare_key.sign(&digest));
    }));
    let signer = AppKey::generate().expect("key"); // never used for requests: its nonces run ahead
    figures.push(rate("rust.sign.ours", "AppKey::sign_request", || {
        black_box(signer.sign_request("GET".into(), "/v2/oauth/token".into(), QUERY.into(), String::new()));
    }));

    let mock = Mock::start(mock_binary.as_deref());
    let plain = reqwest::blocking::Client::new();
    let info = format!("{}/info", mock.control_url());
    figures.push(round_trips("rust.http.unsigned", "unsigned GET /_mock/info (reference)", 1, || {
        black_box(plain.get(&info).send().and_then(|r| r.bytes()).expect("info"));
    }));
    let client = mock.client(mock.app("bench-seq"));
    // The async form in turns with the blocking one, polled on a current-thread tokio
    // runtime as a Rust service would.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let async_client = cobo_oauth::AsyncOAuthClient::new(Arc::new(mock.client(mock.app("bench-async"))));
    figures.extend(round_trips_in_turns(
        &[
            ("rust.get_token.ours", "get_org_token round trip", &|| {
                black_box(client.get_org_token("bench-seq".into(), ORG.into()).expect("token"));
            }),
            ("rust.get_token_async.ours", "AsyncOAuthClient::get_org_token round trip", &|| {
                black_box(runtime.block_on(async_client.get_org_token("bench-async".into(), ORG.into())).expect("token"));
            }),
        ],
        1,
        ROUND_TRIP_REPS,
    ));
    let shared = mock.client(mock.app("bench-threads"));
    figures.push(round_trips("rust.get_token_threads.ours", "get_org_token, 8 threads, 1 client", THREADS, || {
        black_box(shared.get_org_token("bench-threads".into(), ORG.into()).expect("token"));
    }));

    let manager = TokenManager::new(Arc::new(mock.client(mock.app("bench-manager"))), "bench-manager".into(), None, None)
        .expect("token manager");
    manager.access_token(ORG.into()).expect("first token");
    figures.push(rate("rust.access_token.ours", "TokenManager::access_token (cached)", || {
        black_box(manager.access_token(ORG.into()).expect("cached token"));
    }));
    let manager = Arc::new(manager);
    let async_manager = cobo_oauth::AsyncTokenManager::new(manager.clone());
    // Awaited inside one running task, as a service's handler would: 64 calls per entry.
    let mut awaited = rate("rust.access_token_async.ours", "AsyncTokenManager::access_token (cached)", || {
        runtime.block_on(async {
            for _ in 0..64 {
                black_box(async_manager.access_token(ORG.into()).await.expect("cached token"));
            }
        })
    });
    awaited.rates.iter_mut().for_each(|rate| *rate *= 64.0);
    figures.push(awaited);

    // The same call while a renewal is in flight: the token is inside its refresh margin
    // (valid 10 min, margin 1 h) and the refresh takes 2 s. Callers must not notice.
    let fresh_latency = latencies_for(Duration::from_millis(1_500), || {
        black_box(manager.access_token(ORG.into()).expect("cached token"));
    });
    mock.control("/config", serde_json::json!({"access_ttl_secs": 600}));
    let config = cobo_oauth::TokenManagerConfig { refresh_margin_secs: 3600, ..Default::default() };
    let stale = Arc::new(
        TokenManager::new(Arc::new(mock.client(mock.app("bench-stale"))), "bench-stale".into(), None, Some(config))
            .expect("token manager"),
    );
    stale.access_token(ORG.into()).expect("first token");
    mock.control("/faults", serde_json::json!({"fault": {"kind": "delay", "delay_ms": 2000}, "count": 1, "operation": "refresh"}));
    let renewer = {
        let stale = stale.clone();
        std::thread::spawn(move || stale.access_token(ORG.into()).expect("renewed"))
    };
    std::thread::sleep(Duration::from_millis(100));
    let stale_latency = latencies_for(Duration::from_millis(1_500), || {
        black_box(stale.access_token(ORG.into()).expect("stale token"));
    });
    renewer.join().expect("renewer");
    figures.push(latency_figure("rust.access_token_fresh.ours", "access_token, fresh token (latency)", fresh_latency));
    figures.push(latency_figure("rust.access_token_renewing.ours", "access_token while a 2 s renewal runs", stale_latency));

    // A renewal (invalidate, then access_token refreshes) per store: the memory store
    // does not coordinate; the file and Redis stores take a lease, re-read, refresh and
    // compare-and-set. Same mock, same app.
    let renewals = |id: &'static str, label: &'static str, store: Arc<dyn cobo_oauth::TokenStore>| {
        let app = format!("bench-renew-{id}");
        let manager = TokenManager::new(Arc::new(mock.client(mock.app(&app))), app, Some(store), None).expect("token manager");
        let token = std::sync::Mutex::new(manager.access_token(ORG.into()).expect("first token"));
        round_trips(id, label, 1, || {
            let mut token = token.lock().expect("token");
            manager.invalidate(ORG.into(), token.clone()).expect("invalidate");
            *token = manager.access_token(ORG.into()).expect("renewed");
        })
    };
    figures.push(renewals("rust.renewal.memory", "renewal, memory store (uncoordinated reference)", cobo_oauth::memory_token_store()));
    let file = std::env::temp_dir().join(format!("cobo-oauth-bench-{}.json", std::process::id()));
    let file_store = cobo_oauth::file_token_store(file.display().to_string(), None).expect("file store");
    figures.push(renewals("rust.renewal.file", "renewal, file store (flock lease, CAS)", file_store));
    let redis_url = std::env::var("COBO_OAUTH_REDIS_URL").ok();
    if let Some(url) = &redis_url {
        let prefix = format!("bench-{}:", std::process::id());
        let store = cobo_oauth::redis_token_store(cobo_oauth::Secret::new(url.clone()), prefix, 2000, None).expect("redis store");
        figures.push(renewals("rust.renewal.redis", "renewal, Redis store (lease, Lua CAS)", store));
    }
    // The sealing a coordinated renewal adds (tokens at rest): it opens the record up to
    // three times (first read, under the lease, after) and seals two (the in-flight mark,
    // the new token).
    let app_key = mock.app("bench-sealing");
    let sealing_key = cobo_oauth::StoreKey::from_app_key(app_key.clone());
    let sample = TokenManager::new(Arc::new(mock.client(app_key)), "bench-sealing".into(), None, None)
        .and_then(|manager| manager.token(ORG.into()))
        .expect("a token to seal");
    figures.push(rate("rust.sealing.renewal", "sealing per coordinated renewal (2 seals, 3 opens)", || {
        let sealed = sealing_key.seal(ORG.into(), sample.clone()).expect("seal");
        black_box(sealing_key.seal(ORG.into(), sample.clone()).expect("seal"));
        for _ in 0..3 {
            black_box(sealing_key.open(ORG.into(), sealed.clone()).expect("open"));
        }
    }));
    // Warming many orgs (a first token each) through one manager: a file store's save
    // costs O(1) in the number of orgs, so its time per org stays near the memory store's.
    let warm_orgs: usize = std::env::var("BENCH_WARM_ORGS").ok().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let warm = |id: &'static str, label: &'static str, store: Arc<dyn cobo_oauth::TokenStore>, rates: &mut Vec<f64>| {
        let app = format!("bench-warm-{id}-{}", rates.len());
        let key = mock.app_in(&app, (0..warm_orgs).map(|org| format!("warm-{org}")).collect());
        let manager = TokenManager::new(Arc::new(mock.client(key)), app, Some(store), None).expect("token manager");
        let start = Instant::now();
        for org in 0..warm_orgs {
            black_box(manager.access_token(format!("warm-{org}")).expect("first token"));
        }
        rates.push(warm_orgs as f64 / start.elapsed().as_secs_f64());
        (id, label)
    };
    let (mut warm_memory, mut warm_file) = (Vec::new(), Vec::new());
    let mut warm_labels = Vec::new();
    for turn in 0..2 {
        warm_labels.push(warm("rust.warm.memory", "warm many orgs, memory store (per org)", cobo_oauth::memory_token_store(), &mut warm_memory));
        let path = file.with_extension(format!("warm-{turn}"));
        let store = cobo_oauth::file_token_store(path.display().to_string(), None).expect("file store");
        warm_labels.push(warm("rust.warm.file", "warm many orgs, file store (per org)", store, &mut warm_file));
        let _ = std::fs::remove_dir_all(&path);
        let _ = std::fs::remove_file(path.with_extension(format!("warm-{turn}.lock")));
    }
    for ((id, label), rates) in [(warm_labels[0], warm_memory), (warm_labels[1], warm_file)] {
        figures.push(Figure { id, label, rates, latencies_ns: Vec::new() });
    }
    let _ = std::fs::remove_file(file.with_extension("json.lock"));
    for leftover in [file.clone(), file.with_extension("json.leases")] {
        let _ = std::fs::remove_dir_all(leftover);
    }
    drop(mock);

    println!("Rust core, median of {REPS} (async/sync round trips: {ROUND_TRIP_REPS}) x {} ms after {} ms warm-up [quartiles]", REP_TIME.as_millis(), WARMUP.as_millis());
    for figure in &figures {
        figure.print();
    }
    let median = |id: &str| figures.iter().find(|f| f.id == id).map(|f| f.stats()[0]).expect("figure");
    println!(
        "sign_request / bare: {:.2}x the time;  get_org_token / unsigned GET: {:.2}x the time",
        median("rust.sign.bare") / median("rust.sign.ours"),
        median("rust.http.unsigned") / median("rust.get_token.ours"),
    );
    let p99 = |id: &str| figures.iter().find(|f| f.id == id).and_then(|f| f.percentile_us(0.99)).expect("latency");
    println!(
        "access_token p99 while a 2 s renewal runs / on a fresh token: {:.2}x ({:.2} us vs {:.2} us)",
        p99("rust.access_token_renewing.ours") / p99("rust.access_token_fresh.ours"),
        p99("rust.access_token_renewing.ours"),
        p99("rust.access_token_fresh.ours"),
    );
    // Each turn's async rate over the sync rate measured just before it: drift in the
    // machine's speed between turns cancels out.
    let rates = |id: &str| figures.iter().find(|f| f.id == id).map(|f| f.rates.clone()).unwrap_or_default();
    let mut paired: Vec<f64> =
        rates("rust.get_token_async.ours").iter().zip(rates("rust.get_token.ours")).map(|(a, s)| a / s).collect();
    paired.sort_by(f64::total_cmp);
    println!(
        "async / sync: cached access_token {:.2}x the time, get_org_token round trip {:.2}x the time (throughput: paired turns' median {:.2}x)",
        median("rust.access_token.ours") / median("rust.access_token_async.ours"),
        median("rust.get_token.ours") / median("rust.get_token_async.ours"),
        paired.get(paired.len() / 2).copied().unwrap_or(f64::NAN),
    );
    let renewal = |id: &str| median("rust.renewal.memory") / median(id);
    println!(
        "warming {warm_orgs} orgs, file store / memory store: {:.2}x the time per org",
        median("rust.warm.memory") / median("rust.warm.file")
    );
    print!("coordinated renewal / uncoordinated: file {:.2}x the time", renewal("rust.renewal.file"));
    if redis_url.is_some() {
        print!(", Redis {:.2}x the time", renewal("rust.renewal.redis"));
    }
    println!();
    let sealing = |id: &str| 100.0 * median(id) / median("rust.sealing.renewal");
    print!("sealing's share of a coordinated renewal: file {:.2}%", sealing("rust.renewal.file"));
    if redis_url.is_some() {
        print!(", Redis {:.2}%", sealing("rust.renewal.redis"));
    }
    println!();
    if let Some(path) = json_out {
        let doc = serde_json::json!({
            "language": "rust",
            "runtime": format!("cobo-oauth {}", env!("CARGO_PKG_VERSION")),
            "mock": if mock_binary.is_some() { "process" } else { "in-process" },
            "figures": figures.iter().map(Figure::json).collect::<Vec<_>>(),
        });
        let mut file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        writeln!(file, "{}", serde_json::to_string_pretty(&doc).expect("JSON")).expect("write JSON");
    }
}
