//! Tokens at rest: what the file and Redis stores write holds no token, opens for its own
//! org only, and clear-text records older versions wrote are read once and sealed. A
//! record that no longer opens (the key changed) counts as missing: a new grant follows.

mod common;

use std::path::Path;
use std::sync::Arc;

use cobo_oauth::{file_token_store, ClientConfig, Secret, StoreKey, StoredToken, TokenManager, TokenManagerConfig, TokenStore};
use cobo_oauth_mock::MockConfig;
use common::Mocked;

const CLIENT_ID: &str = "at-rest-app";
const ORG: &str = "org-at-rest-a";
const OTHER_ORG: &str = "org-at-rest-b";

fn start() -> Mocked {
    Mocked::start(MockConfig::default(), CLIENT_ID, &[ORG, OTHER_ORG])
}

fn manager_on(h: &Mocked, store: Arc<dyn TokenStore>) -> TokenManager {
    h.manager(ClientConfig { max_retries: 0, ..h.config() }, store, TokenManagerConfig::default())
}

/// A first token, then a refresh: the store has held two of each kind. Returns all four
/// and what the store holds last.
fn two_of_each(h: &Mocked, store: &Arc<dyn TokenStore>) -> (Vec<Secret>, StoredToken) {
    let manager = manager_on(h, store.clone());
    let first = store_after(&manager, store);
    assert!(manager.invalidate(ORG.into(), first.token.access_token.clone()).unwrap());
    let second = store_after(&manager, store);
    assert_eq!(h.server.counters().refresh, 1);
    let tokens = [&first, &second].into_iter().flat_map(|s| [s.token.access_token.clone(), s.token.refresh_token.clone()]);
    (tokens.collect(), second)
}

fn store_after(manager: &TokenManager, store: &Arc<dyn TokenStore>) -> StoredToken {
    manager.access_token(ORG.into()).unwrap();
    store.load(ORG.into()).unwrap().unwrap()
}

/// No token, nor any 9 characters of one, appears in `raw`.
fn assert_no_token_in(raw: &[u8], tokens: &[Secret]) {
    for token in tokens {
        let token = token.expose().as_bytes();
        assert!(token.len() > 8);
        for part in token.windows(9) {
            assert!(!raw.windows(9).any(|w| w == part), "part of a token is stored in clear text");
        }
    }
}


/// Every byte of every file under `dir`.
fn every_byte(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            bytes.extend(every_byte(&path));
        } else {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    bytes
}

/// The record as versions before sealing wrote it, in clear text.
fn clear_text(stored: &StoredToken) -> serde_json::Value {
    let ms = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    serde_json::json!({
        "access_token": stored.token.access_token.expose(),
        "token_type": stored.token.token_type,
        "scope": stored.token.scope,
        "expires_in": stored.token.expires_in,
        "refresh_token": stored.token.refresh_token.expose(),
        "expires_at_ms": ms(stored.token.expires_at),
        "refresh_expires_at_ms": ms(stored.refresh_expires_at),
    })
}

#[test]
fn the_token_files_hold_no_token() {
    let h = start();
    let dir = tempfile::tempdir().unwrap();
    let store = file_token_store(dir.path().join("tokens.json").display().to_string(), None).unwrap();
    let (tokens, _) = two_of_each(&h, &store);
    assert_no_token_in(&every_byte(dir.path()), &tokens);
}

#[test]
fn a_record_file_copied_to_another_org_does_not_open_and_that_org_gets_its_own_token() {
    let h = start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = file_token_store(path.display().to_string(), None).unwrap();
    let manager = manager_on(&h, store.clone());
    let token = manager.access_token(ORG.into()).unwrap();
    let record = common::record_file(&path);
    // The other org's record file, named as the store names it, holding this org's record
    // with its org id rewritten.
    manager.access_token(OTHER_ORG.into()).unwrap();
    let other = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json") && *p != record)
        .unwrap();
    let mut moved: serde_json::Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    moved["org_id"] = OTHER_ORG.into();
    std::fs::write(&other, moved.to_string()).unwrap();

    let restarted = manager_on(&h, file_token_store(path.display().to_string(), None).unwrap());
    let gets = h.server.counters().get;
    let other_token = restarted.access_token(OTHER_ORG.into()).unwrap();
    assert_ne!(other_token, token, "the copied record was refused");
    assert_eq!(h.server.counters().get, gets + 1, "a new grant replaced it");
}

#[test]
fn a_clear_text_record_is_served_once_read_and_sealed() {
    let h = start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let (tokens, stored) = two_of_each(&h, &file_token_store(path.display().to_string(), None).unwrap());
    let record = common::record_file(&path);
    let mut old = clear_text(&stored);
    old["org_id"] = ORG.into();
    old["version"] = 2.into();
    std::fs::write(&record, old.to_string()).unwrap();

    let gets = h.server.counters();
    let manager = manager_on(&h, file_token_store(path.display().to_string(), None).unwrap());
    assert_eq!(manager.access_token(ORG.into()).unwrap(), stored.token.access_token, "the clear-text token is served");
    assert_eq!((h.server.counters().get, h.server.counters().refresh), (gets.get, gets.refresh), "nothing was renewed");
    assert_no_token_in(&every_byte(dir.path()), &tokens);
}

/// The app key changed (or the store was given another key): the record no longer opens,
/// counts as missing, and the manager gets a new token with org_implicit.
#[test]
fn a_record_sealed_under_another_key_counts_as_missing() {
    let h = start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json").display().to_string();
    let old_key = Arc::new(StoreKey::from_bytes(vec![1; 32]).unwrap());
    let old = manager_on(&h, file_token_store(path.clone(), Some(old_key.clone())).unwrap());
    let token = old.access_token(ORG.into()).unwrap();

    let new_key = Arc::new(StoreKey::from_bytes(vec![2; 32]).unwrap());
    let store = file_token_store(path.clone(), Some(new_key)).unwrap();
    assert_eq!(store.load(ORG.into()).unwrap(), None);
    let renewed = manager_on(&h, store.clone()).access_token(ORG.into()).unwrap();
    assert_ne!(renewed, token);
    assert_eq!((h.server.counters().get, h.server.counters().refresh), (2, 0), "a new grant, nothing spent");
    assert_eq!(store.load(ORG.into()).unwrap().unwrap().token.access_token, renewed, "sealed under the new key");
    assert_eq!(file_token_store(path, Some(old_key)).unwrap().load(ORG.into()).unwrap(), None);
}

#[cfg(feature = "redis")]
mod redis_store {
    use super::*;
    use cobo_oauth::redis_token_store;

    fn url() -> Option<String> {
        let url = std::env::var("COBO_OAUTH_REDIS_URL").ok();
        if url.is_none() {
            eprintln!("skipped: no COBO_OAUTH_REDIS_URL (make test-rust starts a redis-server)");
        }
        url
    }

    fn store(url: &str, prefix: &str) -> Arc<dyn TokenStore> {
        redis_token_store(Secret::new(url), prefix.into(), 2000, None).unwrap()
    }

    fn raw(url: &str) -> redis::Connection {
        redis::Client::open(url).unwrap().get_connection().unwrap()
    }

    /// Every value under `prefix`, as Redis holds it.
    fn every_byte(url: &str, prefix: &str) -> Vec<u8> {
        let mut con = raw(url);
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut con).unwrap();
        assert!(!keys.is_empty());
        let mut bytes = Vec::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut con).unwrap();
            let values: Vec<Vec<u8>> = match kind.as_str() {
                "hash" => redis::cmd("HGETALL").arg(&key).query(&mut con).unwrap(),
                _ => vec![redis::cmd("GET").arg(&key).query(&mut con).unwrap()],
            };
            bytes.extend(values.concat());
        }
        bytes
    }

    fn prefix(name: &str) -> String {
        format!("at-rest-{name}-{}:", std::process::id())
    }

    #[test]
    fn redis_holds_no_token() {
        let Some(url) = url() else { return };
        let h = start();
        let prefix = prefix("raw");
        let (tokens, _) = two_of_each(&h, &store(&url, &prefix));
        assert_no_token_in(&every_byte(&url, &prefix), &tokens);
    }

    #[test]
    fn a_redis_record_copied_to_another_org_or_prefix_does_not_open() {
        let Some(url) = url() else { return };
        let h = start();
        let prefix = prefix("moved");
        let store = store(&url, &prefix);
        let token = manager_on(&h, store.clone()).access_token(ORG.into()).unwrap();
        let mut con = raw(&url);
        let sealed: Vec<u8> = redis::cmd("HGET").arg(format!("{prefix}token:{ORG}")).arg("token").query(&mut con).unwrap();
        let copy = |key: String| {
            let () = redis::cmd("HSET").arg(key).arg("version").arg(1).arg("token").arg(&sealed).query(&mut raw(&url)).unwrap();
        };
        copy(format!("{prefix}token:{OTHER_ORG}"));
        let elsewhere = self::prefix("elsewhere");
        copy(format!("{elsewhere}token:{ORG}"));

        let restarted = manager_on(&h, self::store(&url, &prefix));
        assert_ne!(restarted.access_token(OTHER_ORG.into()).unwrap(), token, "the copied record was refused");
        let other_prefix = manager_on(&h, self::store(&url, &elsewhere));
        assert_ne!(other_prefix.access_token(ORG.into()).unwrap(), token, "another prefix's copy was refused");
        assert_eq!(h.server.counters().get, 3, "each got a new grant");
    }

    #[test]
    fn a_clear_text_redis_record_is_served_once_read_and_sealed() {
        let Some(url) = url() else { return };
        let h = start();
        let prefix = prefix("clear");
        let (tokens, stored) = two_of_each(&h, &store(&url, &prefix));
        let () = redis::cmd("HSET")
            .arg(format!("{prefix}token:{ORG}"))
            .arg("token")
            .arg(clear_text(&stored).to_string())
            .query(&mut raw(&url))
            .unwrap();

        let before = h.server.counters();
        let manager = manager_on(&h, store(&url, &prefix));
        assert_eq!(manager.access_token(ORG.into()).unwrap(), stored.token.access_token, "the clear-text token is served");
        let after = h.server.counters();
        assert_eq!((after.get, after.refresh), (before.get, before.refresh), "nothing was renewed");
        assert_no_token_in(&every_byte(&url, &prefix), &tokens);
    }
}
