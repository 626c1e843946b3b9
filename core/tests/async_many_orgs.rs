//! Many orgs renewing at once from async callers: the renewals take turns on the core's
//! bounded pool of blocking threads instead of starting a thread each, and every org
//! still gets its token with one request. Alone in its test binary, so the pool threads
//! counted are this test's.
// Linux only: it counts the pool's threads by name in /proc/self/task.
#![cfg(target_os = "linux")]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{current_thread, CLIENT_ID};
use cobo_oauth::{AppKey, AsyncTokenManager, ClientConfig, OAuthClient, TokenManager};
use cobo_oauth_mock::{App, Fault, FaultTarget, MockConfig, MockServer};

const ORGS: usize = 200;
/// `BLOCKING_THREADS` in core/src/http/runtime.rs.
const POOL_THREADS: usize = 64;

/// The process's threads named as the pool names its own.
fn pool_threads() -> usize {
    let tasks = std::fs::read_dir("/proc/self/task").unwrap();
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "cobo-oauth-call")
        .count()
}

#[test]
fn orgs_renewing_at_once_take_turns_on_a_bounded_pool() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let key = Arc::new(AppKey::generate().unwrap());
    let orgs: Vec<String> = (0..ORGS).map(|i| format!("org-{i}")).collect();
    server.register_app(App { client_id: CLIENT_ID.into(), api_key: key.api_key(), orgs: orgs.clone() });
    let config = ClientConfig { max_retries: 0, ..common::client_config(&server) };
    let client = Arc::new(OAuthClient::new(key, config).unwrap());
    let manager = Arc::new(TokenManager::new(client, CLIENT_ID.into(), None, None).unwrap());
    // Each first token takes 200 ms: the renewals overlap, more than the pool holds.
    server.inject_for(Fault::Delay { delay_ms: 200 }, ORGS as u32, FaultTarget::Get);

    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while sampling.load(Ordering::SeqCst) {
                peak = peak.max(pool_threads());
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let tokens = current_thread().block_on(async {
        let tokens = Arc::new(AsyncTokenManager::new(manager.clone()));
        let callers: Vec<_> = orgs
            .iter()
            .map(|org| {
                let (tokens, org) = (tokens.clone(), org.clone());
                tokio::spawn(async move { tokens.access_token(org).await })
            })
            .collect();
        let mut got = Vec::new();
        for caller in callers {
            got.push(caller.await.unwrap().unwrap());
        }
        got
    });
    sampling.store(false, Ordering::SeqCst);
    let peak = sampler.join().unwrap();

    assert_eq!(server.counters().get, ORGS as u64, "one request per org");
    let distinct: std::collections::HashSet<_> = tokens.iter().map(|token| token.expose().to_owned()).collect();
    assert_eq!(distinct.len(), ORGS, "each org got its own token");
    for (org, token) in orgs.iter().zip(&tokens) {
        assert_eq!(manager.access_token(org.clone()).unwrap(), *token, "{org}'s token is the cached one");
    }
    assert!(peak > 1, "the renewals ran side by side ({peak} pool threads at most)");
    assert!(peak <= POOL_THREADS, "{peak} pool threads for {ORGS} renewals at once");
}
