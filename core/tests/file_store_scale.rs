//! 5,000 orgs warmed through one manager on the file store: each save writes its org's
//! file alone, so the store holds one record per org and a renewal rewrites one file.
//! The time per org against the memory store's is printed (the bench has 20,000).

mod common;

use std::sync::Arc;
use std::time::Instant;

use cobo_oauth::{file_token_store, memory_token_store, AppKey, OAuthClient, TokenManager, TokenStore};
use cobo_oauth_mock::{App, MockConfig, MockServer};

const ORGS: usize = 5_000;

fn org(n: usize) -> String {
    format!("org-{n:05}")
}

/// Warms every org through one manager on `store`; returns the manager and seconds per org.
fn warm(server: &MockServer, store: Arc<dyn TokenStore>, client_id: &str) -> (TokenManager, f64) {
    let key = Arc::new(AppKey::generate().unwrap());
    server.register_app(App { client_id: client_id.into(), api_key: key.api_key(), orgs: (0..ORGS).map(org).collect() });
    let config = common::client_config(&server);
    let manager = TokenManager::new(Arc::new(OAuthClient::new(key, config).unwrap()), client_id.into(), Some(store), None).unwrap();
    let start = Instant::now();
    for n in 0..ORGS {
        manager.access_token(org(n)).unwrap();
    }
    (manager, start.elapsed().as_secs_f64() / ORGS as f64)
}

fn records(dir: &std::path::Path) -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
    let mut records: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
            (path, modified)
        })
        .collect();
    records.sort();
    records
}

#[test]
fn five_thousand_orgs_one_file_each_and_a_renewal_rewrites_one() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");

    let (_, memory) = warm(&server, memory_token_store(), "scale-memory");
    let (manager, file) = warm(&server, file_token_store(path.display().to_string(), None).unwrap(), "scale-file");
    println!("{ORGS} orgs warmed: memory store {:.0} us per org, file store {:.0} us per org ({:.2}x)", memory * 1e6, file * 1e6, file / memory);
    assert_eq!(server.counters().get, 2 * ORGS as u64, "one grant per org and store");

    let before = records(&path);
    assert_eq!(before.len(), ORGS, "one record file per org");
    std::thread::sleep(std::time::Duration::from_millis(20)); // a visible mtime step
    let token = manager.access_token(org(1234)).unwrap();
    assert!(manager.invalidate(org(1234), token).unwrap());
    manager.access_token(org(1234)).unwrap();
    assert_eq!(server.counters().refresh, 1);
    let after = records(&path);
    let changed: Vec<_> = before.iter().zip(&after).filter(|(b, a)| b != a).map(|(b, _)| b.0.clone()).collect();
    assert_eq!(changed.len(), 1, "the renewal rewrote its org's record alone: {changed:?}");
}
