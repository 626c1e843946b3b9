//! The TokenManager against the mock server: single flight, persistence, fallbacks.

mod common;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, SystemTime};

use cobo_oauth::{
    file_token_store, memory_token_store, AppKey, ClientConfig, CoboOAuthError, OAuthClient, Secret, StoredToken,
    TokenManager, TokenManagerConfig, TokenStore,
};
use cobo_oauth_mock::{App, Fault, FaultTarget, MockConfig, MockServer};

const CLIENT_ID: &str = "manager-app";
const ORG: &str = "org-a";
const OTHER_ORG: &str = "org-b";

struct Harness {
    server: MockServer,
    client: Arc<OAuthClient>,
    key: Arc<AppKey>,
}

impl Harness {
    fn start() -> Harness {
        let (server, key) = common::mock_with_app(MockConfig::default(), CLIENT_ID, &[ORG, OTHER_ORG]);
        let config = ClientConfig {
            max_retries: 0,
            ..common::client_config(&server)
        };
        let client = Arc::new(OAuthClient::new(key.clone(), config).unwrap());
        Harness { server, client, key }
    }

    fn manager(&self, store: Arc<dyn TokenStore>) -> TokenManager {
        // No backoff: these tests retry at once after a failure (runtime.rs tests backoff).
        let config = TokenManagerConfig {
            refresh_margin_secs: 0,
            backoff_initial_ms: 1,
            backoff_max_ms: 1,
            ..TokenManagerConfig::default()
        };
        TokenManager::new(self.client.clone(), CLIENT_ID.into(), Some(store), Some(config)).unwrap()
    }

    /// A manager whose cached token for `ORG` has expired.
    fn with_expired_token(&self, store: Arc<dyn TokenStore>) -> TokenManager {
        self.server.set_token_ttls(1, 30 * 24 * 3600);
        let manager = self.manager(store);
        manager.access_token(ORG.into()).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        self.server.set_token_ttls(43199, 30 * 24 * 3600);
        self.server.reset();
        manager
    }
}

#[test]
fn sixty_four_callers_share_one_refresh() {
    let h = Harness::start();
    let manager = Arc::new(h.with_expired_token(memory_token_store()));
    let barrier = Arc::new(Barrier::new(64));
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let (manager, barrier) = (manager.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                manager.access_token(ORG.into()).unwrap()
            })
        })
        .collect();
    let tokens: Vec<Secret> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    let counters = h.server.counters();
    assert_eq!((counters.refresh, counters.get), (1, 0));
    // Fresh now: served from the cache.
    assert_eq!(manager.access_token(ORG.into()).unwrap(), tokens[0]);
    assert_eq!(h.server.counters().total, 1);
}

#[test]
fn a_slow_org_does_not_hold_up_another() {
    let h = Harness::start();
    let manager = Arc::new(h.manager(memory_token_store()));
    // Long enough that only a manager holding the other org up would finish it second.
    h.server.inject_for(Fault::Delay { delay_ms: 5_000 }, 1, FaultTarget::Get);
    let finished = Arc::new(Mutex::new(Vec::new()));
    let slow = {
        let (manager, finished) = (manager.clone(), finished.clone());
        std::thread::spawn(move || {
            manager.access_token(ORG.into()).unwrap();
            finished.lock().unwrap().push(ORG);
        })
    };
    while h.server.counters().get == 0 {
        std::thread::sleep(Duration::from_millis(5)); // until the slow org's request is in flight
    }
    manager.access_token(OTHER_ORG.into()).unwrap();
    finished.lock().unwrap().push(OTHER_ORG);
    slow.join().unwrap();
    assert_eq!(*finished.lock().unwrap(), vec![OTHER_ORG, ORG]);
}

#[test]
fn a_failed_renewal_reaches_every_waiter_once() {
    // A server that accepts, holds the connection, then hangs up: one renewal, 16 callers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (accepted, stop) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                accepted.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(400));
                drop(stream);
            }
        });
    }
    let config = ClientConfig {
        max_retries: 0,
        ..ClientConfig::for_base_url(format!("http://127.0.0.1:{port}/v2"), AppKey::generate().unwrap().api_key())
    };
    let client = Arc::new(OAuthClient::new(Arc::new(AppKey::generate().unwrap()), config).unwrap());
    let manager = Arc::new(TokenManager::new(client, CLIENT_ID.into(), None, None).unwrap());
    let barrier = Arc::new(Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (manager, barrier) = (manager.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                manager.access_token(ORG.into())
            })
        })
        .collect();
    for thread in threads {
        let err = thread.join().unwrap().unwrap_err();
        assert!(matches!(err, CoboOAuthError::Transport { .. }), "{err:?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    stop.store(true, Ordering::SeqCst);
}

/// A memory store that can be told to fail, and remembers what it was asked.
#[derive(Default)]
struct ProbeStore {
    inner: Mutex<std::collections::HashMap<String, StoredToken>>,
    failing: AtomicBool,
    saves: AtomicUsize,
    deletes: AtomicUsize,
}

impl TokenStore for ProbeStore {
    fn load(&self, org_id: String) -> Result<Option<StoredToken>, CoboOAuthError> {
        Ok(self.inner.lock().unwrap().get(&org_id).cloned())
    }
    fn save(&self, org_id: String, token: StoredToken) -> Result<(), CoboOAuthError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(CoboOAuthError::Store { reason: "disk full".into() });
        }
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.lock().unwrap().insert(org_id, token);
        Ok(())
    }
    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.lock().unwrap().remove(&org_id);
        Ok(())
    }
}

#[test]
fn the_store_holds_the_rotated_token_before_anyone_uses_it() {
    let h = Harness::start();
    let store = Arc::new(ProbeStore::default());
    let manager = h.with_expired_token(store.clone());
    let token = manager.access_token(ORG.into()).unwrap();
    let saved = store.load(ORG.into()).unwrap().unwrap();
    assert_eq!(saved.token.access_token, token);
    assert_eq!(h.server.counters().refresh, 1);
    assert_eq!(store.saves.load(Ordering::SeqCst), 2);
}

#[test]
fn a_failing_store_fails_the_call_and_loses_nothing() {
    let h = Harness::start();
    let store = Arc::new(ProbeStore::default());
    let manager = h.with_expired_token(store.clone());
    store.failing.store(true, Ordering::SeqCst);
    let err = manager.access_token(ORG.into()).unwrap_err();
    assert_eq!(err, CoboOAuthError::Store { reason: "disk full".into() });
    // The rotated token lives on in memory; once the store recovers it is saved and
    // served, without another request (the old refresh token is spent).
    store.failing.store(false, Ordering::SeqCst);
    let token = manager.access_token(ORG.into()).unwrap();
    assert_eq!(store.load(ORG.into()).unwrap().unwrap().token.access_token, token);
    assert_eq!((h.server.counters().refresh, h.server.counters().get), (1, 0));
}

#[test]
fn a_new_manager_continues_from_the_store() {
    let h = Harness::start();
    let store = memory_token_store();
    let first = h.manager(store.clone());
    let token = first.access_token(ORG.into()).unwrap();
    drop(first);
    let second = h.manager(store.clone());
    assert_eq!(second.access_token(ORG.into()).unwrap(), token);
    second.invalidate(ORG.into(), second.access_token(ORG.into()).unwrap()).unwrap();
    assert_ne!(second.access_token(ORG.into()).unwrap(), token);
    let counters = h.server.counters();
    assert_eq!((counters.get, counters.refresh), (1, 1), "no second org_implicit grant");
}

#[test]
fn a_spent_refresh_token_falls_back_to_one_new_grant() {
    let h = Harness::start();
    let store = memory_token_store();
    let manager = h.manager(store.clone());
    manager.access_token(ORG.into()).unwrap();
    // Someone else spends the refresh token.
    let stored = store.load(ORG.into()).unwrap().unwrap();
    h.client.refresh_org_token(CLIENT_ID.into(), stored.token.refresh_token).unwrap();
    h.server.reset();
    manager.invalidate(ORG.into(), manager.access_token(ORG.into()).unwrap()).unwrap();
    let token = manager.access_token(ORG.into()).unwrap();
    assert_eq!(store.load(ORG.into()).unwrap().unwrap().token.access_token, token);
    let counters = h.server.counters();
    assert_eq!((counters.refresh, counters.get), (1, 1));
}

/// An org that uninstalled the app is forgotten: its tokens leave the cache and the
/// store (no byte of them stays in the file), and the next call asks Cobo for a new
/// grant, which Cobo refuses now.
#[test]
fn a_forgotten_org_leaves_the_cache_and_the_store() {
    let h = Harness::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = file_token_store(path.display().to_string(), None).unwrap();
    let manager = h.manager(store.clone());
    let token = manager.access_token(ORG.into()).unwrap();
    let other = manager.access_token(OTHER_ORG.into()).unwrap();
    manager.forget(ORG.into()).unwrap();
    assert_eq!(store.load(ORG.into()).unwrap(), None);
    let files: String = std::fs::read_dir(&path).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
    assert!(!files.contains(token.expose()));
    assert_eq!(store.load(OTHER_ORG.into()).unwrap().unwrap().token.access_token, other, "the other org is kept");

    h.server.register_app(App { client_id: CLIENT_ID.into(), api_key: h.key.api_key(), orgs: vec![OTHER_ORG.into()] });
    assert!(matches!(manager.access_token(ORG.into()), Err(CoboOAuthError::AuthorizationRequired { .. })));
    assert_eq!(manager.access_token(OTHER_ORG.into()).unwrap(), other);
    assert_eq!(h.server.counters().get, 3, "the forgotten org asked again; the other was served");
    assert!(matches!(manager.forget(" ".into()), Err(CoboOAuthError::InvalidArgument { .. })));
}

#[test]
fn an_org_that_withdrew_needs_authorization_again() {
    let h = Harness::start();
    let store = Arc::new(ProbeStore::default());
    let manager = h.manager(store.clone());
    manager.access_token(ORG.into()).unwrap();
    h.server.register_app(App { client_id: CLIENT_ID.into(), api_key: h.key.api_key(), orgs: vec![] });
    manager.invalidate(ORG.into(), manager.access_token(ORG.into()).unwrap()).unwrap();
    let err = manager.access_token(ORG.into()).unwrap_err();
    match err {
        CoboOAuthError::AuthorizationRequired { org_id, status: 403, error, .. } => {
            assert_eq!((org_id.as_str(), error.as_str()), (ORG, "unauthorized_client"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.deletes.load(Ordering::SeqCst), 1);
    assert_eq!(store.load(ORG.into()).unwrap(), None);
    assert_eq!(manager.refresh_token_expires_at(ORG.into()).unwrap(), None);
}

#[test]
fn transient_failures_leave_the_stored_tokens_alone() {
    let h = Harness::start();
    let store = memory_token_store();
    let manager = h.with_expired_token(store.clone());
    let before = store.load(ORG.into()).unwrap().unwrap();
    h.server.inject_for(Fault::ServerError { status: 500, error_code: 1, error_message: "x".into(), error_id: None }, 1, FaultTarget::Refresh);
    let err = manager.access_token(ORG.into()).unwrap_err();
    assert!(matches!(err, CoboOAuthError::Server { status: 500, .. }), "{err:?}");
    assert_eq!(store.load(ORG.into()).unwrap().unwrap(), before);
    // The refresh token was not spent: the next call refreshes with it.
    manager.access_token(ORG.into()).unwrap();
    assert_eq!((h.server.counters().refresh, h.server.counters().get), (2, 0));
}

#[test]
fn the_refresh_tokens_own_expiry_is_tracked_and_honoured() {
    let h = Harness::start();
    let config = TokenManagerConfig { refresh_margin_secs: 0, refresh_token_lifetime_secs: 3600, ..TokenManagerConfig::default() };
    let manager = TokenManager::new(h.client.clone(), CLIENT_ID.into(), None, Some(config)).unwrap();
    assert_eq!(manager.refresh_token_expires_at(ORG.into()).unwrap(), None);
    let before = SystemTime::now();
    manager.access_token(ORG.into()).unwrap();
    let expires = manager.refresh_token_expires_at(ORG.into()).unwrap().unwrap();
    let lifetime = expires.duration_since(before).unwrap();
    assert!(lifetime >= Duration::from_secs(3600) && lifetime < Duration::from_secs(3605));

    // A refresh token past its lifetime is not even tried: a new grant instead.
    let zero = TokenManagerConfig { refresh_margin_secs: 0, refresh_token_lifetime_secs: 0, ..TokenManagerConfig::default() };
    let store = memory_token_store();
    let manager = TokenManager::new(h.client.clone(), CLIENT_ID.into(), Some(store), Some(zero)).unwrap();
    manager.access_token(OTHER_ORG.into()).unwrap();
    h.server.reset();
    manager.invalidate(OTHER_ORG.into(), manager.access_token(OTHER_ORG.into()).unwrap()).unwrap();
    manager.access_token(OTHER_ORG.into()).unwrap();
    assert_eq!((h.server.counters().refresh, h.server.counters().get), (0, 1));
}

#[test]
fn headers_margins_and_arguments() {
    let h = Harness::start();
    let manager = h.manager(memory_token_store());
    let header = manager.authorization_header(ORG.into()).unwrap();
    let token = manager.access_token(ORG.into()).unwrap();
    assert_eq!(header.expose(), format!("Bearer {}", token.expose()));
    assert!(matches!(manager.access_token(" ".into()), Err(CoboOAuthError::InvalidArgument { .. })));
    assert!(matches!(
        TokenManager::new(h.client.clone(), "".into(), None, None),
        Err(CoboOAuthError::InvalidArgument { .. })
    ));
    // A margin longer than the token's life renews on every call.
    let eager = TokenManagerConfig { refresh_margin_secs: 50_000, ..TokenManagerConfig::default() };
    let eager = TokenManager::new(h.client.clone(), CLIENT_ID.into(), None, Some(eager)).unwrap();
    let first = eager.access_token(OTHER_ORG.into()).unwrap();
    assert_ne!(eager.access_token(OTHER_ORG.into()).unwrap(), first);
    let printed = format!("{manager:?} {:?}", manager.token(ORG.into()).unwrap());
    assert!(!printed.contains(token.expose()), "{printed}");
}

#[test]
fn the_file_store_persists_across_managers_with_private_atomic_writes() {
    let h = Harness::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let path_text = path.to_str().unwrap().to_owned();
    let token = h.manager(file_token_store(path_text.clone(), None).unwrap()).access_token(ORG.into()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700, "a directory of records");
        assert_eq!(std::fs::metadata(common::record_file(&path)).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["tokens.json", "tokens.json.leases", "tokens.json.lock"], "no temp file left behind");
    let restarted = h.manager(file_token_store(path_text.clone(), None).unwrap());
    assert_eq!(restarted.access_token(ORG.into()).unwrap(), token);
    assert_eq!(h.server.counters().get, 1);

    // A record that does not parse is moved aside: the org starts empty, a new grant.
    std::fs::write(common::record_file(&path), "not json").unwrap();
    let broken = h.manager(file_token_store(path_text, None).unwrap());
    assert_ne!(broken.access_token(ORG.into()).unwrap(), token);
    assert_eq!(h.server.counters().get, 2);
    assert!(matches!(file_token_store(" ".into(), None), Err(CoboOAuthError::InvalidArgument { .. })));
}

#[test]
fn invalidate_before_first_use_still_renews() {
    let h = Harness::start();
    let store = memory_token_store();
    let token = h.manager(store.clone()).access_token(ORG.into()).unwrap();
    let restarted = h.manager(store);
    assert!(restarted.invalidate(ORG.into(), token.clone()).unwrap()); // nothing loaded yet
    assert_ne!(restarted.access_token(ORG.into()).unwrap(), token);
    assert_eq!(h.server.counters().refresh, 1);
}

#[test]
fn file_stores_on_one_path_never_lose_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json").to_str().unwrap().to_owned();
    let h = Harness::start();
    let sample = h.manager(memory_token_store()).token(ORG.into()).unwrap();
    // Used without a manager: each store is given the key to seal with.
    let key = Arc::new(cobo_oauth::StoreKey::from_app_key(h.key.clone()));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (path, sample, key) = (path.clone(), sample.clone(), key.clone());
            std::thread::spawn(move || {
                let store = file_token_store(path, Some(key)).unwrap(); // a store of its own, same file
                for j in 0..10 {
                    store.save(format!("org-{i}-{j}"), sample.clone()).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let store = file_token_store(path, Some(key)).unwrap();
    for i in 0..8 {
        for j in 0..10 {
            let loaded = store.load(format!("org-{i}-{j}")).unwrap().unwrap();
            assert_eq!(loaded.token.access_token, sample.token.access_token);
        }
    }
}

#[test]
fn a_wrong_app_key_is_not_a_withdrawn_org() {
    let h = Harness::start();
    let store = Arc::new(ProbeStore::default());
    h.manager(store.clone()).access_token(ORG.into()).unwrap();
    // The same store, but a client signing with a key Cobo does not know for this app.
    let config = ClientConfig {
        max_retries: 0,
        ..common::client_config(&h.server)
    };
    let stranger = Arc::new(OAuthClient::new(Arc::new(AppKey::generate().unwrap()), config).unwrap());
    let manager = TokenManager::new(stranger, CLIENT_ID.into(), Some(store.clone()), None).unwrap();
    manager.invalidate(ORG.into(), manager.access_token(ORG.into()).unwrap()).unwrap();
    let err = manager.access_token(ORG.into()).unwrap_err();
    assert!(matches!(&err, CoboOAuthError::OAuth { status: 401, error, .. } if error == "invalid_client"), "{err:?}");
    assert_eq!(store.deletes.load(Ordering::SeqCst), 0);
    assert!(store.load(ORG.into()).unwrap().is_some());
}

#[test]
fn renewals_under_contention_never_strand_a_caller() {
    let h = Harness::start();
    let config = TokenManagerConfig { refresh_margin_secs: 0, ..TokenManagerConfig::default() };
    let manager = Arc::new(TokenManager::new(h.client.clone(), CLIENT_ID.into(), None, Some(config)).unwrap());
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let manager = manager.clone();
            std::thread::spawn(move || {
                let org = if i % 2 == 0 { ORG } else { OTHER_ORG };
                for _ in 0..20 {
                    manager.invalidate(org.into(), manager.access_token(org.into()).unwrap()).unwrap();
                    manager.access_token(org.into()).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(h.server.counters().rejected, 0);
}

#[test]
fn cached_answers_only_what_token_would_serve_at_once() {
    let h = Harness::start();
    let manager = h.manager(memory_token_store());
    assert!(manager.cached(ORG).is_none(), "nothing asked yet: no token, and the store is not read");
    let token = manager.token(ORG.into()).unwrap();
    assert_eq!(manager.cached(ORG).map(|cached| cached.token.access_token), Some(token.token.access_token.clone()));
    assert!(manager.cached(OTHER_ORG).is_none());
    manager.invalidate(ORG.into(), token.token.access_token).unwrap();
    assert!(manager.cached(ORG).is_none(), "an invalidated token is not served");
    let expired = h.with_expired_token(memory_token_store());
    assert!(expired.cached(ORG).is_none(), "an expired token is not served");
    assert_eq!(h.server.counters().get, 0, "cached never asks the server");
}

