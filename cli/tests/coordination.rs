//! Many processes and hosts on one store: `cobo-oauth worker` processes (each its own
//! TokenManager) share a token file or a real Redis against a strict mock that
//! revokes a token family when a spent refresh token comes back. Also the faults: a
//! lease holder killed mid-renewal, a lease deleted mid-renewal, a server slower than
//! the lease, Redis down and back, a corrupt token file.
//!
//! Redis comes from `tests/redis/with-redis.sh` (`make test-rust` runs this under it).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cobo_oauth::{
    file_token_store, redis_token_store, AppKey, ClientConfig, CoboOAuthError, OAuthClient, Secret, TokenManager,
    TokenManagerConfig, TokenStore,
};
use cobo_oauth_mock::{App, Fault, FaultTarget, MockConfig, MockServer};

const CLIENT_ID: &str = "coordination-app";
const ORG: &str = "org-shared";
const ACCESS_TTL: u64 = 2;
const MARGIN: u64 = 1;

fn redis_url() -> String {
    std::env::var("COBO_OAUTH_REDIS_URL").expect("COBO_OAUTH_REDIS_URL: run under tests/redis/with-redis.sh (make test-rust does)")
}

struct Harness {
    server: MockServer,
    key: Arc<AppKey>,
    dir: tempfile::TempDir,
}

/// A random suffix for names (Redis prefixes) two runs must not share.
fn unique() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new().build_hasher().finish()
}

impl Harness {
    fn start(strict: bool, access_ttl_secs: u64) -> Harness {
        let config = MockConfig { strict_rotation: strict, access_ttl_secs, ..MockConfig::default() };
        let server = MockServer::start(config).unwrap();
        let key = Arc::new(AppKey::generate().unwrap());
        server.register_app(App { client_id: CLIENT_ID.into(), api_key: key.api_key(), orgs: vec![ORG.into()] });
        Harness { server, key, dir: tempfile::tempdir().unwrap() }
    }

    fn file(&self) -> String {
        self.dir.path().join("tokens.json").display().to_string()
    }

    fn worker(&self, store: &str, seconds: u64, env: &[(&str, &str)]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_cobo-oauth"))
            .args(["worker", "--client-id", CLIENT_ID, "--org-id", ORG, "--threads", "4", "--store", store])
            .args(["--seconds", &seconds.to_string(), "--margin-secs", &MARGIN.to_string(), "--lease-ttl-ms", "1000"])
            .args(["--base-url", &self.server.base_url(), "--response-key", &self.server.response_public_key()])
            .env("COBO_APP_PRIVATE_KEY", self.key.private_key_hex().expose())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn manager(&self, store: Arc<dyn TokenStore>, config: TokenManagerConfig) -> TokenManager {
        self.manager_within(store, config, ClientConfig::default().total_timeout_ms)
    }

    /// A manager whose calls give up after `total_timeout_ms`, lease waits included.
    fn manager_within(&self, store: Arc<dyn TokenStore>, config: TokenManagerConfig, total_timeout_ms: u64) -> TokenManager {
        let client_config = ClientConfig {
            max_retries: 0,
            total_timeout_ms,
            ..ClientConfig::for_base_url(self.server.base_url(), self.server.response_public_key())
        };
        let client = Arc::new(OAuthClient::new(self.key.clone(), client_config).unwrap());
        TokenManager::new(client, CLIENT_ID.into(), Some(store), Some(config)).unwrap()
    }

    /// Runs `workers` processes for `seconds`, then checks the figures COORDINATION.md
    /// sets: one renewal per expiry window (plus the first grant), no spent refresh
    /// token presented, no protected call refused.
    fn run_workers(&self, stores: &[String], seconds: u64, env: &[(&str, &str)]) {
        let started = Instant::now();
        let workers: Vec<Child> = stores.iter().map(|store| self.worker(store, seconds, env)).collect();
        let mut calls = 0;
        for worker in workers {
            let output = worker.wait_with_output().unwrap();
            assert!(output.status.success(), "a worker failed: {:?}", output.status);
            let counts: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            assert_eq!((counts["refused"].as_u64(), counts["errors"].as_u64()), (Some(0), Some(0)), "{counts}");
            calls += counts["calls"].as_u64().unwrap();
        }
        let windows = started.elapsed().as_secs_f64() / (ACCESS_TTL - MARGIN) as f64;
        let counters = self.server.counters();
        println!(
            "{} processes, {calls} protected calls, {} renewals for {windows:.1} windows: {counters:?}",
            stores.len(),
            counters.issued
        );
        assert!(calls > 100, "{calls} calls");
        assert!(counters.issued as f64 <= windows.ceil() + 1.0, "{} renewals for {windows:.1} windows", counters.issued);
        assert!(counters.issued >= 2, "tokens were not renewed: {counters:?}");
        assert_eq!((counters.spent_refusals, counters.reuse_detections), (0, 0), "{counters:?}");
        // The processes draw nonces from one clock: Cobo refused none, nor any token.
        assert_eq!((counters.protected_refused, counters.nonce_reuses), (0, 0), "{counters:?}");
    }
}

#[test]
fn worker_processes_on_one_token_file_renew_once_per_expiry() {
    let harness = Harness::start(true, ACCESS_TTL);
    let store = format!("file:{}", harness.file());
    harness.run_workers(&[store.clone(), store.clone(), store], 6, &[]);
}

#[test]
fn replicas_on_one_redis_renew_once_per_expiry() {
    let harness = Harness::start(true, ACCESS_TTL);
    // Two replicas of one app (one key prefix), two processes each; another app's
    // prefix holds the same org id and must not interfere.
    let prefix = format!("redis:app-{:x}:", unique());
    let other = Harness::start(false, 3600);
    let other_manager = other.manager(redis_store(&format!("other-{:x}:", unique())), TokenManagerConfig::default());
    other_manager.access_token(ORG.into()).unwrap();
    let url = redis_url();
    harness.run_workers(&[prefix.clone(), prefix.clone(), prefix.clone(), prefix], 6, &[("COBO_REDIS_URL", &url)]);
}

#[test]
fn workers_reach_redis_over_tls_with_an_acl_user() {
    let url = std::env::var("COBO_OAUTH_REDISS_URL").expect("run under tests/redis/with-redis.sh");
    let ca = std::env::var("COBO_OAUTH_REDIS_CA_FILE").unwrap();
    let acl = std::env::var("COBO_OAUTH_REDIS_ACL_URL").unwrap();
    // rediss:// with the ACL user's credentials, trusting the throwaway CA.
    let (credentials, _) = acl.trim_start_matches("redis://").split_once('@').unwrap();
    let tls = url.replacen("rediss://", &format!("rediss://{credentials}@"), 1);
    let harness = Harness::start(true, ACCESS_TTL);
    let prefix = format!("redis:tls-{:x}:", unique());
    harness.run_workers(&[prefix.clone(), prefix], 3, &[("COBO_REDIS_URL", &tls), ("SSL_CERT_FILE", &ca)]);
}

fn redis_store(prefix: &str) -> Arc<dyn TokenStore> {
    redis_token_store(Secret::new(redis_url()), prefix.into(), 2000, None).unwrap()
}

fn coordinated(lease_ttl_ms: u64) -> TokenManagerConfig {
    TokenManagerConfig { refresh_margin_secs: 0, lease_ttl_ms, backoff_initial_ms: 10, backoff_max_ms: 10, ..TokenManagerConfig::default() }
}

fn wait_for(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let until = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// A lease holder killed with SIGKILL while its grant is in flight (stalled 30 s): the
/// file lock dies with it, a Redis lease lapses after its 1 s TTL; either way the next
/// process renews within its own deadline (10 s, far from the stall) and the store still
/// parses. A lease that outlived its holder would end that deadline with a Timeout.
fn killed_holder(store: &str, reopen: impl Fn() -> Arc<dyn TokenStore>, env: &[(&str, &str)]) {
    let harness = Harness::start(false, 3600);
    harness.server.inject_for(Fault::Delay { delay_ms: 30_000 }, 1, FaultTarget::Get);
    let mut holder = harness.worker(store, 30, env);
    wait_for("the holder's request", Duration::from_secs(10), || harness.server.counters().get == 1);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let store = reopen();
    let manager = harness.manager_within(Arc::clone(&store), coordinated(1000), 10_000);
    manager.access_token(ORG.into()).unwrap();
    assert_eq!(harness.server.counters().get, 2, "one new grant, after the holder's");
    assert!(store.load(ORG.into()).unwrap().is_some(), "the store holds the new token");
}

#[test]
fn a_killed_lease_holder_on_the_token_file_blocks_nobody() {
    let harness_dir = tempfile::tempdir().unwrap();
    let path = harness_dir.path().join("tokens.json").display().to_string();
    let reopen = || file_token_store(path.clone(), None).unwrap();
    killed_holder(&format!("file:{path}"), reopen, &[]);
}

#[test]
fn a_killed_lease_holder_on_redis_blocks_others_for_the_lease_ttl_at_most() {
    let prefix = format!("killed-{:x}:", unique());
    let url = redis_url();
    killed_holder(&format!("redis:{prefix}"), || redis_store(&prefix), &[("COBO_REDIS_URL", &url)]);
}

/// Two "processes" (managers on their own store instances) on one record. A's refresh
/// is slow; meanwhile its lease is deleted and B takes the lease. B finds the refresh
/// token marked in flight by A, never presents it, and saves a new grant. A's late save
/// must then be refused by the version check, and A must adopt B's token: one chain,
/// a version that only moves forward.
fn deleted_lease(store: impl Fn() -> Arc<dyn TokenStore>, delete_lease: impl Fn(), version: impl Fn() -> u64) {
    let harness = Harness::start(false, 3600);
    let (a, b) = (harness.manager(store(), coordinated(600)), harness.manager(store(), coordinated(600)));
    let first = a.access_token(ORG.into()).unwrap();
    assert_eq!(b.access_token(ORG.into()).unwrap(), first);
    let before = version();
    assert!(a.invalidate(ORG.into(), first.clone()).unwrap() && b.invalidate(ORG.into(), first).unwrap());
    harness.server.inject_for(Fault::Delay { delay_ms: 1500 }, 1, FaultTarget::Refresh);
    thread::scope(|scope| {
        let slow = scope.spawn(|| a.access_token(ORG.into()));
        wait_for("A's refresh", Duration::from_secs(5), || harness.server.counters().refresh == 1);
        assert_eq!(version(), before + 1, "A marked its refresh token in flight");
        delete_lease();
        let theirs = b.access_token(ORG.into()).unwrap();
        assert_eq!(version(), before + 2, "B saved once");
        let ours = slow.join().unwrap().unwrap();
        assert_eq!(ours, theirs, "A adopted B's token instead of saving its own");
    });
    assert_eq!(version(), before + 2, "A's late save was refused; the version never went back");
    let counters = harness.server.counters();
    assert_eq!((counters.refresh, counters.get, counters.issued), (1, 2, 3), "A's refresh, B's new grant: {counters:?}");
    assert_eq!((counters.spent_refusals, counters.reuse_detections), (0, 0), "{counters:?}");
}

#[test]
fn a_deleted_redis_lease_refuses_the_stale_writers_save() {
    let prefix = format!("deleted-{:x}:", unique());
    let raw = redis::Client::open(redis_url()).unwrap();
    let delete = || {
        let removed: i64 = redis::cmd("DEL").arg(format!("{prefix}lease:{ORG}")).query(&mut raw.get_connection().unwrap()).unwrap();
        assert_eq!(removed, 1, "A held the lease");
    };
    let version = || -> u64 {
        redis::cmd("HGET").arg(format!("{prefix}token:{ORG}")).arg("version").query(&mut raw.get_connection().unwrap()).unwrap()
    };
    deleted_lease(|| redis_store(&prefix), delete, version);
}

#[test]
fn a_deleted_lease_file_refuses_the_stale_writers_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let leases = dir.path().join("tokens.json.leases");
    let delete = || {
        let files: Vec<_> = std::fs::read_dir(&leases).unwrap().collect();
        assert_eq!(files.len(), 1);
        std::fs::remove_file(files[0].as_ref().unwrap().path()).unwrap();
    };
    let version = || -> u64 {
        let records: Vec<_> = std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
        assert_eq!(records.len(), 1, "one org, one record");
        let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&records[0]).unwrap()).unwrap();
        record["version"].as_u64().unwrap()
    };
    deleted_lease(|| file_token_store(path.display().to_string(), None).unwrap(), delete, version);
}

/// A refresh that takes 4 leases' time: the holder's heartbeat keeps the lease, the
/// other process waits and adopts; one refresh, no spent token presented.
#[test]
fn a_server_slower_than_the_lease_causes_no_double_spend() {
    let harness = Harness::start(true, 3600);
    let prefix = format!("slow-{:x}:", unique());
    let (a, b) = (harness.manager(redis_store(&prefix), coordinated(500)), harness.manager(redis_store(&prefix), coordinated(500)));
    let first = a.access_token(ORG.into()).unwrap();
    assert_eq!(b.access_token(ORG.into()).unwrap(), first);
    assert!(a.invalidate(ORG.into(), first.clone()).unwrap() && b.invalidate(ORG.into(), first).unwrap());
    harness.server.inject_for(Fault::Delay { delay_ms: 2000 }, 1, FaultTarget::Refresh);
    let (ours, theirs) = thread::scope(|scope| {
        let slow = scope.spawn(|| a.access_token(ORG.into()));
        wait_for("A's refresh", Duration::from_secs(5), || harness.server.counters().refresh == 1);
        let theirs = b.access_token(ORG.into());
        (slow.join().unwrap().unwrap(), theirs.unwrap())
    });
    assert_eq!(ours, theirs);
    let counters = harness.server.counters();
    assert_eq!((counters.refresh, counters.spent_refusals, counters.reuse_detections), (1, 0, 0), "{counters:?}");
}

/// Redis stops: a valid cached token is still served, an expired one is a typed Store
/// error. Redis comes back on the same port: renewals work again.
#[test]
fn redis_down_and_back() {
    let server = std::env::var("COBO_OAUTH_REDIS_SERVER").expect("run under tests/redis/with-redis.sh");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let start = || {
        let redis = Command::new(&server)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_for("redis", Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        redis
    };
    let mut redis = start();
    let harness = Harness::start(false, 3600);
    let store = redis_token_store(Secret::new(format!("redis://127.0.0.1:{port}/")), "down:".into(), 500, None).unwrap();
    let manager = harness.manager(store, coordinated(1000));
    let token = manager.access_token(ORG.into()).unwrap();
    redis.kill().unwrap();
    redis.wait().unwrap();

    assert_eq!(manager.access_token(ORG.into()).unwrap(), token, "a fresh cached token needs no store");
    manager.invalidate(ORG.into(), token).unwrap();
    match manager.access_token(ORG.into()) {
        Err(CoboOAuthError::Store { reason }) => assert!(reason.contains("redis"), "{reason}"),
        other => panic!("expected a Store error, got {other:?}"),
    }
    let mut redis = start();
    thread::sleep(Duration::from_millis(50)); // past the backoff
    let renewed = manager.access_token(ORG.into()).unwrap();
    assert!(!renewed.expose().is_empty());
    redis.kill().unwrap();
    redis.wait().unwrap();
}

#[test]
fn redis_urls_and_credentials_are_checked_and_never_quoted() {
    let bad = |url: &str| redis_token_store(Secret::new(url), "p:".into(), 2000, None).err();
    assert!(matches!(bad("http://example.com"), Some(CoboOAuthError::InvalidArgument { .. })));
    assert!(matches!(redis_token_store(Secret::new(redis_url()), "p:".into(), 0, None).err(), Some(CoboOAuthError::InvalidArgument { .. })));
    let acl = std::env::var("COBO_OAUTH_REDIS_ACL_URL").unwrap();
    let wrong = acl.replacen("@", "-wrong-password-x@", 1);
    let harness = Harness::start(false, 3600);
    let store = redis_token_store(Secret::new(wrong), "acl:".into(), 2000, None).unwrap();
    match harness.manager(store, coordinated(1000)).access_token(ORG.into()) {
        Err(CoboOAuthError::Store { reason }) => assert!(!reason.contains("wrong-password-x"), "{reason}"),
        other => panic!("expected a Store error, got {other:?}"),
    }
    let store = redis_token_store(Secret::new(acl), format!("acl-{:x}:", unique()), 2000, None).unwrap();
    harness.manager(store, coordinated(1000)).access_token(ORG.into()).unwrap();
}

/// A lease holder killed (SIGKILL) or stopped (SIGSTOP, past its lease) while Cobo
/// spends its refresh token: the record it marked in flight keeps every other process
/// from presenting that token again (a strict Cobo would revoke the family); the next
/// renewal asks for a new grant instead, within its deadline, and the store parses.
fn holder_lost_mid_refresh(store: &str, reopen: impl Fn() -> Arc<dyn TokenStore>, env: &[(&str, &str)], stop: bool) {
    let harness = Harness::start(true, ACCESS_TTL);
    harness.manager(reopen(), coordinated(1000)).access_token(ORG.into()).unwrap();
    harness.server.inject_for(Fault::Delay { delay_ms: 2_000 }, 1, FaultTarget::Refresh);
    // Renews within a second (its margin), and its refresh hangs in the mock.
    let mut holder = harness.worker(store, 8, env);
    wait_for("the holder's refresh", Duration::from_secs(10), || harness.server.counters().refresh == 1);
    let signal = if stop { "-STOP" } else { "-KILL" };
    let pid = holder.id().to_string();
    assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
    // Cobo spends the refresh token once the delay is over, whatever became of the holder.
    wait_for("the spent refresh", Duration::from_secs(10), || harness.server.counters().issued == 2);

    // Another process renews (its token has expired meanwhile, or is invalidated).
    let store = reopen();
    let manager = harness.manager(Arc::clone(&store), coordinated(1000));
    let token = manager.access_token(ORG.into()).unwrap();
    if harness.server.counters().get == 1 {
        manager.invalidate(ORG.into(), token).unwrap();
        manager.access_token(ORG.into()).unwrap();
    }
    if stop {
        assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    }
    let _ = holder.kill();
    holder.wait().unwrap();
    let counters = harness.server.counters();
    assert_eq!((counters.refresh, counters.get), (1, 2), "one refresh, then a new grant: {counters:?}");
    assert_eq!((counters.spent_refusals, counters.reuse_detections), (0, 0), "{counters:?}");
    assert!(!store.load(ORG.into()).unwrap().unwrap().refresh_in_flight, "the new grant cleared the mark");
}

#[test]
fn a_holder_killed_mid_refresh_on_the_token_file_leaves_no_spent_token_to_present() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json").display().to_string();
    holder_lost_mid_refresh(&format!("file:{path}"), || file_token_store(path.clone(), None).unwrap(), &[], false);
}

#[test]
fn a_holder_killed_mid_refresh_on_redis_leaves_no_spent_token_to_present() {
    let prefix = format!("killed-refresh-{:x}:", unique());
    let url = redis_url();
    holder_lost_mid_refresh(&format!("redis:{prefix}"), || redis_store(&prefix), &[("COBO_REDIS_URL", &url)], false);
}

/// The holder stopped past its Redis lease (1 s): another process takes the lease and
/// renews with a new grant; the holder, continued, adopts that instead of saving its own.
#[test]
fn a_holder_stopped_past_its_redis_lease_mid_refresh_leaves_no_spent_token_to_present() {
    let prefix = format!("stopped-refresh-{:x}:", unique());
    let url = redis_url();
    holder_lost_mid_refresh(&format!("redis:{prefix}"), || redis_store(&prefix), &[("COBO_REDIS_URL", &url)], true);
}
