//! Faults of the store during a renewal, against the strict mock (a spent refresh token
//! presented again revokes its family): a save that fails once after Cobo rotated the
//! token, a store rolled back to an older record, and a store whose errors quote the
//! tokens it was given. Each must leave no spent refresh token for anyone to present.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use cobo_oauth::{
    coordinated_token_store, file_token_store, set_log_sink, ClientConfig, CoboOAuthError, CoordinatedTokenStore,
    LogRecord, LogSink, OAuthClient, StoredToken, TokenManager, TokenManagerConfig, TokenStore, VersionedToken,
};
use cobo_oauth_mock::{MockConfig, MockServer};

const CLIENT_ID: &str = "store-faults-app";
const ORG: &str = "org-store-faults";

struct Harness {
    server: MockServer,
    client: Arc<OAuthClient>,
}

impl Harness {
    fn start() -> Harness {
        let (server, key) = common::mock_with_app(MockConfig { strict_rotation: true, ..MockConfig::default() }, CLIENT_ID, &[ORG]);
        let config = ClientConfig {
            max_retries: 0,
            total_timeout_ms: 2_000,
            ..common::client_config(&server)
        };
        Harness { client: Arc::new(OAuthClient::new(key, config).unwrap()), server }
    }

    /// A manager: another process, as far as the store can tell.
    fn manager(&self, store: Arc<dyn TokenStore>) -> TokenManager {
        let config = TokenManagerConfig { backoff_initial_ms: 1, backoff_max_ms: 1, ..TokenManagerConfig::default() };
        TokenManager::new(self.client.clone(), CLIENT_ID.into(), Some(store), Some(config)).unwrap()
    }

    /// Renews `manager`'s token now, as a refused token makes a hook do.
    fn renew(&self, manager: &TokenManager) -> cobo_oauth::Secret {
        let token = manager.access_token(ORG.into()).unwrap();
        assert!(manager.invalidate(ORG.into(), token.clone()).unwrap());
        let renewed = manager.access_token(ORG.into()).unwrap();
        assert_ne!(renewed, token);
        renewed
    }

    fn assert_no_reuse(&self) {
        let counters = self.server.counters();
        assert_eq!((counters.spent_refusals, counters.reuse_detections), (0, 0), "{counters:?}");
    }
}


/// A coordinated store whose saves numbered in `failing` (from 1) fail, writing nothing.
struct Flaky {
    inner: Arc<dyn CoordinatedTokenStore>,
    saves: AtomicU32,
    failing: std::ops::Range<u32>,
    quote: bool,
}

impl Flaky {
    fn over(store: &Arc<dyn TokenStore>, failing: std::ops::Range<u32>, quote: bool) -> Arc<dyn TokenStore> {
        let inner = store.coordinated().unwrap();
        coordinated_token_store(Arc::new(Flaky { inner, saves: AtomicU32::new(0), failing, quote }))
    }
}

impl CoordinatedTokenStore for Flaky {
    fn load_versioned(&self, org_id: String) -> Result<VersionedToken, CoboOAuthError> {
        self.inner.load_versioned(org_id)
    }

    fn save_if_version(&self, org_id: String, token: StoredToken, version: u64) -> Result<bool, CoboOAuthError> {
        if self.failing.contains(&(self.saves.fetch_add(1, Ordering::SeqCst) + 1)) {
            let reason = match self.quote {
                // What a database driver says: the statement's parameters, tokens included.
                true => format!(
                    "(OperationalError) database is locked [parameters: ('{org_id}', '{}', '{}')]",
                    token.token.access_token.expose(),
                    token.token.refresh_token.expose()
                ),
                false => "connection reset".into(),
            };
            return Err(CoboOAuthError::Store { reason });
        }
        self.inner.save_if_version(org_id, token, version)
    }

    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        self.inner.delete(org_id)
    }

    fn acquire_lease(&self, org_id: String, owner: String, ttl_ms: u64) -> Result<bool, CoboOAuthError> {
        self.inner.acquire_lease(org_id, owner, ttl_ms)
    }

    fn extend_lease(&self, org_id: String, owner: String, ttl_ms: u64) -> Result<bool, CoboOAuthError> {
        self.inner.extend_lease(org_id, owner, ttl_ms)
    }

    fn release_lease(&self, org_id: String, owner: String) -> Result<(), CoboOAuthError> {
        self.inner.release_lease(org_id, owner)
    }

    fn offer_store_key(&self, key: Arc<cobo_oauth::StoreKey>) {
        self.inner.offer_store_key(key);
    }
}

/// After Cobo rotated the refresh token, the save fails once: the renewal saves again
/// (under its lease, before the deadline), so the next process finds the new refresh
/// token, never the spent one.
fn a_failed_save_after_rotation_is_saved_again(store: impl Fn() -> Arc<dyn TokenStore>) {
    let h = Harness::start();
    // Save 1: the first grant; 2: the refresh token marked in flight; 3: after the
    // refresh, fails.
    let a = h.manager(Flaky::over(&store(), 3..4, false));
    let b = h.manager(store());
    h.renew(&a);
    // B, another process, renews from the store.
    h.renew(&b);
    // A adopts B's token from the store.
    h.renew(&a);
    let counters = h.server.counters();
    assert_eq!((counters.get, counters.refresh), (1, 2), "{counters:?}");
    h.assert_no_reuse();
}

#[test]
fn file_store_a_failed_save_after_rotation_is_saved_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    a_failed_save_after_rotation_is_saved_again(|| file_token_store(path.display().to_string(), None).unwrap());
}

#[test]
fn redis_store_a_failed_save_after_rotation_is_saved_again() {
    let Ok(url) = std::env::var("COBO_OAUTH_REDIS_URL") else {
        return eprintln!("skipped: no COBO_OAUTH_REDIS_URL (make test-rust starts a redis-server)");
    };
    let prefix = format!("store-faults-{}:", std::process::id());
    a_failed_save_after_rotation_is_saved_again(|| {
        cobo_oauth::redis_token_store(cobo_oauth::Secret::new(url.clone()), prefix.clone(), 2000, None).unwrap()
    });
}

/// The token file is restored from a backup older than the token this process holds:
/// the record's refresh token is one this process spent. It renews with its own (newer)
/// one instead, and moves the record forward.
#[test]
fn a_rolled_back_file_is_renewed_from_the_newer_token_held() {
    let h = Harness::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = file_token_store(path.display().to_string(), None).unwrap();
    let a = h.manager(store.clone());
    a.access_token(ORG.into()).unwrap();
    let backup = std::fs::read(common::record_file(&path)).unwrap();
    let held = h.renew(&a);
    std::fs::write(common::record_file(&path), backup).unwrap();

    let renewed = h.renew(&a);
    assert_ne!(renewed, held);
    h.assert_no_reuse();
    let record = store.coordinated().unwrap().load_versioned(ORG.into()).unwrap();
    assert_eq!(record.token.unwrap().token.access_token, renewed, "the record moved forward");
    // A process that starts now reads that record and renews from it.
    h.renew(&h.manager(file_token_store(path.display().to_string(), None).unwrap()));
    h.assert_no_reuse();
}

struct Captured(Mutex<Vec<String>>);

impl LogSink for Captured {
    fn log(&self, record: LogRecord) {
        self.0.lock().unwrap().push(record.message);
    }
}

/// A store's error that quotes the tokens it was given reaches neither the log nor the
/// caller with them.
#[test]
fn a_store_error_quoting_the_tokens_is_scrubbed() {
    let h = Harness::start();
    let sink = Arc::new(Captured(Mutex::new(Vec::new())));
    set_log_sink(Some(sink.clone()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    // Save 1, the first grant, fails quoting it.
    let a = h.manager(Flaky::over(&file_token_store(path.display().to_string(), None).unwrap(), 1..2, true));
    let err = a.access_token(ORG.into()).unwrap_err();
    set_log_sink(None);
    let CoboOAuthError::Store { reason } = &err else { panic!("{err:?}") };
    assert!(reason.contains("<redacted>") && reason.contains("database is locked"), "{reason}");
    // The token this process holds (unsaved) is the one the store quoted.
    let token = a.access_token(ORG.into()).unwrap();
    let logged = sink.0.lock().unwrap().clone();
    assert!(logged.iter().any(|line| line.contains("database is locked")), "{logged:?}");
    for text in logged.iter().chain([reason]) {
        assert!(!text.contains(token.expose()), "a token in {text:?}");
    }
}

/// The renewal ends (the process exits, its deadline passes) with Cobo's rotated token
/// unsaved: the store keeps the spent refresh token, marked in flight, and the next
/// process asks for a new grant instead of presenting it.
#[test]
fn a_renewal_that_never_saves_leaves_its_refresh_token_marked() {
    let h = Harness::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = || file_token_store(path.display().to_string(), None).unwrap();
    let kept = store();
    let a = h.manager(Arc::clone(&kept));
    let token = a.access_token(ORG.into()).unwrap();
    // Its save 1 marks the refresh token; every save after it fails until the deadline.
    let dying = h.manager(Flaky::over(&store(), 2..u32::MAX, false));
    assert_eq!(dying.access_token(ORG.into()).unwrap(), token);
    assert!(dying.invalidate(ORG.into(), token).unwrap());
    assert!(matches!(dying.access_token(ORG.into()), Err(CoboOAuthError::Store { .. })));
    drop(dying);
    assert!(kept.load(ORG.into()).unwrap().unwrap().refresh_in_flight, "the spent refresh token is marked");

    h.renew(&a);
    let counters = h.server.counters();
    assert_eq!((counters.refresh, counters.get), (1, 2), "the spent token was not presented again: {counters:?}");
    h.assert_no_reuse();
}

/// The mark cannot be written: nothing is sent, and the refresh token stays usable.
#[test]
fn no_refresh_is_sent_when_the_mark_cannot_be_written() {
    let h = Harness::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = || file_token_store(path.display().to_string(), None).unwrap();
    // Save 1: the first grant; 2: the mark, fails.
    let a = h.manager(Flaky::over(&store(), 2..3, false));
    let token = a.access_token(ORG.into()).unwrap();
    assert!(a.invalidate(ORG.into(), token).unwrap());
    assert!(matches!(a.access_token(ORG.into()), Err(CoboOAuthError::Store { .. })));
    assert_eq!(h.server.counters().refresh, 0, "nothing was sent");
    // The next attempt marks it and refreshes.
    a.access_token(ORG.into()).unwrap();
    let counters = h.server.counters();
    assert_eq!((counters.refresh, counters.get), (1, 1), "{counters:?}");
    h.assert_no_reuse();
}

/// Another process holds the token file's lock (stopped mid-write, say): a renewal gives
/// up at its deadline without sending anything, and the caller gets the cached token,
/// still valid.
#[test]
fn a_held_file_lock_ends_with_the_deadline_and_the_valid_token_is_served() {
    let h = Harness::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = file_token_store(path.display().to_string(), None).unwrap();
    // A margin as long as the token's life: each token is stale (renewed, served) at once.
    let config = TokenManagerConfig {
        refresh_margin_secs: 43_199,
        backoff_initial_ms: 1,
        backoff_max_ms: 1,
        ..TokenManagerConfig::default()
    };
    let manager = TokenManager::new(h.client.clone(), CLIENT_ID.into(), Some(store), Some(config)).unwrap();
    let token = manager.access_token(ORG.into()).unwrap();
    let lock_path = common::record_file(&path).with_extension("lock");
    let held = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&lock_path).unwrap();
    held.lock().unwrap();

    assert_eq!(manager.access_token(ORG.into()).unwrap(), token, "the valid token is served");
    assert_eq!(h.server.counters().refresh, 0, "nothing was sent without the mark");
    drop(held); // closing releases the lock on every platform
    let renewed = manager.access_token(ORG.into()).unwrap();
    assert_ne!(renewed, token);
    assert_eq!(h.server.counters().refresh, 1);
}
