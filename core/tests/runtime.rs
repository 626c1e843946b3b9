//! Hostile runtimes: deadlines that hold against dripping and stalled bodies, stores
//! that panic, failures in the last minutes of a token's life, backoff, invalidation by
//! token, load-balancer answers and Retry-After dates. Real loopback HTTP to the mock.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use cobo_oauth::{
    memory_token_store, ClientConfig, CoboOAuthError, OAuthClient, StoredToken, TokenManager,
    TokenManagerConfig, TokenStore,
};
use cobo_oauth_mock::{App, Fault, FaultTarget, MockConfig};
use common::Mocked;

const CLIENT_ID: &str = "runtime-app";
const ORG: &str = "org-runtime";

fn start() -> Mocked {
    Mocked::start(MockConfig::default(), CLIENT_ID, &[ORG])
}

/// No retries unless a test asks for them: the mock counts each request made.
fn no_retries(h: &Mocked) -> ClientConfig {
    ClientConfig { max_retries: 0, ..h.config() }
}

fn manager(h: &Mocked, store: Arc<dyn TokenStore>, manager_config: TokenManagerConfig) -> TokenManager {
    h.manager(no_retries(h), store, manager_config)
}

/// The mock's (grants, refreshes).
fn counters(h: &Mocked) -> (u64, u64) {
    let counters = h.server.counters();
    (counters.get, counters.refresh)
}

fn no_backoff() -> TokenManagerConfig {
    TokenManagerConfig { refresh_margin_secs: 0, backoff_initial_ms: 1, backoff_max_ms: 1, ..Default::default() }
}

fn unavailable() -> Fault {
    Fault::Unsigned { status: 503, retry_after_secs: None, retry_after_as_date: false }
}

// --- deadlines -----------------------------------------------------------------------

#[test]
fn a_dripping_or_stalled_body_ends_at_the_attempt_timeout() {
    let h = start();
    let client = h.client(ClientConfig { timeout_ms: 800, ..no_retries(&h) });
    let token = client.get_org_token(CLIENT_ID.into(), ORG.into()).unwrap();
    for fault in [Fault::SlowBody { interval_ms: 200 }, Fault::StallMidBody { stall_ms: 10_000 }] {
        for target in [FaultTarget::Get, FaultTarget::Refresh] {
            h.server.inject_for(fault.clone(), 1, target);
            // Untimed, the drip would take minutes and the stall end in a broken body:
            // only the attempt's timeout makes either a Timeout.
            let err = match target {
                FaultTarget::Get => client.get_org_token(CLIENT_ID.into(), ORG.into()).unwrap_err(),
                _ => client.refresh_org_token(CLIENT_ID.into(), token.refresh_token.clone()).unwrap_err(),
            };
            assert!(matches!(err, CoboOAuthError::Timeout { .. }), "{fault:?} {target:?}: {err:?}");
        }
    }
}

#[test]
fn the_total_deadline_bounds_retries_and_their_waits() {
    let h = start();
    let config =
        ClientConfig { max_retries: 10, timeout_ms: 400, total_timeout_ms: 1_000, retry_max_delay_ms: 300, ..no_retries(&h) };
    let client = h.client(config);
    h.server.inject_for(Fault::Delay { delay_ms: 2_000 }, 20, FaultTarget::Get);
    let err = client.get_org_token(CLIENT_ID.into(), ORG.into()).unwrap_err();
    assert!(matches!(err, CoboOAuthError::Timeout { .. }), "{err:?}");
    // Each attempt lasts its 400 ms: at most three start within 1 s, against eleven allowed.
    let attempts = h.server.counters().get;
    assert!((2..=3).contains(&attempts), "{attempts} attempts: it retried, and stopped at the deadline");
}

#[test]
fn a_renewal_shares_one_deadline_across_refresh_and_fallback() {
    let h = start();
    let config = ClientConfig { timeout_ms: 5_000, total_timeout_ms: 1_000, ..no_retries(&h) };
    let manager =
        TokenManager::new(h.client(config), CLIENT_ID.into(), Some(memory_token_store()), Some(no_backoff())).unwrap();
    let stored = manager.token(ORG.into()).unwrap();
    // Someone else spends the refresh token, so the manager's refresh is refused (after
    // 600 ms), then the fallback grant takes 800 ms: within its own 5 s timeout, but not
    // within what is left of the renewal's one deadline.
    h.client(no_retries(&h)).refresh_org_token(CLIENT_ID.into(), stored.token.refresh_token).unwrap();
    manager.invalidate(ORG.into(), stored.token.access_token).unwrap();
    h.server.inject_for(Fault::Delay { delay_ms: 600 }, 1, FaultTarget::Refresh);
    h.server.inject_for(Fault::Delay { delay_ms: 800 }, 1, FaultTarget::Get);
    let err = manager.access_token(ORG.into()).unwrap_err();
    assert!(matches!(err, CoboOAuthError::Timeout { .. }), "{err:?}");
    assert_eq!(counters(&h), (2, 2), "the refresh, then the fallback grant");
}

// --- panics in stores ----------------------------------------------------------------

/// A store that panics on save while `panicking` is set, after `pause`.
#[derive(Default)]
struct PanickingStore {
    tokens: Mutex<std::collections::HashMap<String, StoredToken>>,
    panicking: AtomicBool,
    pause: Mutex<Duration>,
}

impl TokenStore for PanickingStore {
    fn load(&self, org_id: String) -> Result<Option<StoredToken>, CoboOAuthError> {
        Ok(self.tokens.lock().unwrap().get(&org_id).cloned())
    }

    fn save(&self, org_id: String, token: StoredToken) -> Result<(), CoboOAuthError> {
        std::thread::sleep(*self.pause.lock().unwrap());
        if self.panicking.load(Ordering::SeqCst) {
            let missing: Option<()> = None;
            missing.unwrap(); // a store's careless unwrap
        }
        self.tokens.lock().unwrap().insert(org_id, token);
        Ok(())
    }

    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        self.tokens.lock().unwrap().remove(&org_id);
        Ok(())
    }
}

#[test]
fn a_panicking_store_releases_every_waiter_and_leaves_the_org_usable() {
    let h = start();
    let store = Arc::new(PanickingStore::default());
    store.panicking.store(true, Ordering::SeqCst);
    *store.pause.lock().unwrap() = Duration::from_millis(300);
    let manager = Arc::new(manager(&h, store.clone(), no_backoff()));
    let barrier = Arc::new(Barrier::new(8));
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let (manager, barrier) = (manager.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                manager.access_token(ORG.into())
            })
        })
        .collect();
    for caller in callers {
        let err = caller.join().expect("no panic reaches the caller").unwrap_err();
        assert!(matches!(&err, CoboOAuthError::Store { reason } if reason.contains("panicked")), "{err:?}");
    }
    // The store recovers: the org is not stuck, and the token kept in memory is saved.
    store.panicking.store(false, Ordering::SeqCst);
    *store.pause.lock().unwrap() = Duration::ZERO;
    let token = manager.access_token(ORG.into()).unwrap();
    assert_eq!(store.load(ORG.into()).unwrap().unwrap().token.access_token, token);
    assert_eq!(counters(&h), (1, 0), "one grant, kept through the panic");
}

// --- a valid token is never withheld ----------------------------------------------------

/// A manager holding a token for ORG that is valid for `left` seconds, all inside the
/// refresh margin, and that token.
fn stale_manager(h: &Mocked, left: u64, config: TokenManagerConfig) -> (Arc<TokenManager>, cobo_oauth::Secret) {
    h.server.set_token_ttls(left, 30 * 24 * 3600);
    let manager = Arc::new(manager(h, memory_token_store(), TokenManagerConfig { refresh_margin_secs: 3600, ..config }));
    let token = manager.access_token(ORG.into()).unwrap();
    h.server.set_token_ttls(43_199, 30 * 24 * 3600);
    h.server.reset();
    (manager, token)
}

fn backoff_ms(ms: u64) -> TokenManagerConfig {
    TokenManagerConfig { backoff_initial_ms: ms, backoff_max_ms: ms, ..Default::default() }
}

#[test]
fn a_stale_token_is_served_at_once_while_one_caller_renews() {
    let h = start();
    let (manager, stale) = stale_manager(&h, 600, no_backoff());
    h.server.inject_for(Fault::Delay { delay_ms: 1_500 }, 1, FaultTarget::Refresh);
    let renewer = {
        let manager = manager.clone();
        std::thread::spawn(move || manager.access_token(ORG.into()).unwrap())
    };
    // The refresh has reached Cobo (and is held there): the renewal is in flight.
    let until = Instant::now() + Duration::from_secs(30);
    while h.server.counters().refresh == 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    // A caller that waited for the renewal would get the renewed token, not this one.
    for _ in 0..200 {
        assert_eq!(manager.access_token(ORG.into()).unwrap(), stale);
    }
    let renewed = renewer.join().unwrap();
    assert_ne!(renewed, stale);
    assert_eq!(manager.access_token(ORG.into()).unwrap(), renewed);
    assert_eq!(counters(&h), (0, 1), "one refresh");
}

#[test]
fn a_transient_failure_inside_the_margin_serves_the_valid_token_and_backs_off() {
    let h = start();
    let (manager, stale) = stale_manager(&h, 600, backoff_ms(400));
    h.server.inject_for(unavailable(), 1, FaultTarget::Refresh);
    assert_eq!(manager.access_token(ORG.into()).unwrap(), stale, "the renewing caller gets the valid token");
    for _ in 0..50 {
        assert_eq!(manager.access_token(ORG.into()).unwrap(), stale);
    }
    assert_eq!(counters(&h), (0, 1), "no request while backing off");
    std::thread::sleep(Duration::from_millis(450));
    assert_ne!(manager.access_token(ORG.into()).unwrap(), stale);
    assert_eq!(counters(&h), (0, 2));
}

#[test]
fn an_expired_token_gets_the_error_once_then_the_backoff_answers() {
    let h = start();
    let (manager, _) = stale_manager(&h, 1, backoff_ms(500));
    std::thread::sleep(Duration::from_millis(1_100));
    h.server.inject_for(unavailable(), 1, FaultTarget::Refresh);
    assert_eq!(manager.access_token(ORG.into()).unwrap_err(), CoboOAuthError::Unavailable { status: 503 });
    for _ in 0..100 {
        assert_eq!(manager.access_token(ORG.into()).unwrap_err(), CoboOAuthError::Unavailable { status: 503 });
    }
    assert_eq!(counters(&h), (0, 1), "100 callers in the backoff window made no request");
    std::thread::sleep(Duration::from_millis(550));
    manager.access_token(ORG.into()).unwrap();
    assert_eq!(counters(&h), (0, 2));
}

#[test]
fn an_org_that_needs_authorization_is_not_asked_again_on_every_call() {
    let h = start();
    let manager = manager(&h, memory_token_store(), TokenManagerConfig { refresh_margin_secs: 0, ..backoff_ms(60_000) });
    let token = manager.access_token(ORG.into()).unwrap();
    h.server.register_app(App { client_id: CLIENT_ID.into(), api_key: h.key.api_key(), orgs: vec![] });
    manager.invalidate(ORG.into(), token).unwrap();
    h.server.reset();
    for _ in 0..20 {
        let err = manager.access_token(ORG.into()).unwrap_err();
        assert!(matches!(err, CoboOAuthError::AuthorizationRequired { status: 403, .. }), "{err:?}");
    }
    assert_eq!(counters(&h), (1, 1), "one refresh, one grant, then the recorded answer");
}

// --- invalidate only what the caller saw ----------------------------------------------

#[test]
fn invalidate_expires_only_the_token_the_caller_used() {
    let h = start();
    let manager = Arc::new(manager(&h, memory_token_store(), no_backoff()));
    let first = manager.access_token(ORG.into()).unwrap();
    assert!(manager.invalidate(ORG.into(), first.clone()).unwrap());
    let second = manager.access_token(ORG.into()).unwrap();
    assert_ne!(second, first);
    assert!(!manager.invalidate(ORG.into(), first.clone()).unwrap(), "a stale report is ignored");
    assert_eq!(manager.access_token(ORG.into()).unwrap(), second);
    assert_eq!(counters(&h), (1, 1));

    // 16 callers saw `second` refused: one renewal between them.
    let barrier = Arc::new(Barrier::new(16));
    let callers: Vec<_> = (0..16)
        .map(|_| {
            let (manager, barrier, seen) = (manager.clone(), barrier.clone(), second.clone());
            std::thread::spawn(move || {
                barrier.wait();
                manager.invalidate(ORG.into(), seen).unwrap();
                manager.access_token(ORG.into()).unwrap()
            })
        })
        .collect();
    let tokens: std::collections::HashSet<_> = callers.into_iter().map(|c| c.join().unwrap().expose().to_owned()).collect();
    assert_eq!(tokens.len(), 1, "everyone ends with the one new token");
    assert_eq!(counters(&h), (1, 2), "one more refresh, not sixteen");
    assert!(matches!(manager.invalidate(" ".into(), second), Err(CoboOAuthError::InvalidArgument { .. })));
}

// --- classification --------------------------------------------------------------------

#[test]
fn load_balancer_answers_are_unavailable_and_retried() {
    let h = start();
    let once = h.client(no_retries(&h));
    let retrying = h.client(ClientConfig { max_retries: 1, ..no_retries(&h) });
    for status in [500, 502, 503, 504, 520, 521, 522, 523, 524] {
        let fault = Fault::Unsigned { status, retry_after_secs: None, retry_after_as_date: false };
        h.server.inject_for(fault.clone(), 1, FaultTarget::Get);
        assert_eq!(once.get_org_token(CLIENT_ID.into(), ORG.into()).unwrap_err(), CoboOAuthError::Unavailable { status });
        h.server.reset();
        h.server.inject_for(fault, 1, FaultTarget::Get);
        retrying.get_org_token(CLIENT_ID.into(), ORG.into()).unwrap();
        assert_eq!(counters(&h), (2, 0), "HTTP {status} retried");
        h.server.reset();
    }
}

#[test]
fn retry_after_dates_and_signed_rate_limits_are_retried() {
    let h = start();
    let client = h.client(ClientConfig { max_retries: 1, retry_max_delay_ms: 3_000, ..no_retries(&h) });
    let dated = Fault::Unsigned { status: 503, retry_after_secs: Some(2), retry_after_as_date: true };
    h.server.inject_for(dated, 1, FaultTarget::Get);
    let started = Instant::now();
    client.get_org_token(CLIENT_ID.into(), ORG.into()).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900), "waited {:?}", started.elapsed());
    assert_eq!(counters(&h), (2, 0));

    h.server.reset();
    let signed = Fault::OAuthError { status: 429, error: "rate_limited".into(), error_description: "slow down".into() };
    h.server.inject_for(signed.clone(), 1, FaultTarget::Get);
    client.get_org_token(CLIENT_ID.into(), ORG.into()).unwrap();
    assert_eq!(counters(&h), (2, 0), "Cobo's own 429 is retried");
    h.server.inject_for(signed, 2, FaultTarget::Get);
    let err = client.get_org_token(CLIENT_ID.into(), ORG.into()).unwrap_err();
    assert!(matches!(err, CoboOAuthError::OAuth { status: 429, .. }), "{err:?}");
}

#[test]
fn a_refresh_refused_with_a_non_oauth_answer_falls_back_once() {
    let h = start();
    let manager = manager(&h, memory_token_store(), no_backoff());
    let unsigned_404 = Fault::Unsigned { status: 404, retry_after_secs: None, retry_after_as_date: false };
    for (round, fault) in [Fault::MalformedJson, Fault::MissingFields, unsigned_404].into_iter().enumerate() {
        let token = manager.access_token(ORG.into()).unwrap();
        manager.invalidate(ORG.into(), token.clone()).unwrap();
        h.server.inject_for(fault.clone(), 1, FaultTarget::Refresh);
        assert_ne!(manager.access_token(ORG.into()).unwrap(), token, "{fault:?}");
        assert_eq!(counters(&h), (2 + round as u64, 1 + round as u64), "{fault:?}: refresh, then one grant");
    }
}

#[test]
fn absurd_manager_configurations_are_refused() {
    let h = start();
    let client = h.client(no_retries(&h));
    for config in [
        TokenManagerConfig { refresh_token_lifetime_secs: 400 * 365 * 24 * 3600, ..Default::default() },
        TokenManagerConfig { refresh_token_lifetime_secs: u64::MAX, ..Default::default() },
        TokenManagerConfig { refresh_margin_secs: 3_000_000, ..Default::default() },
        TokenManagerConfig { backoff_initial_ms: 0, ..Default::default() },
        TokenManagerConfig { backoff_initial_ms: 10, backoff_max_ms: 5, ..Default::default() },
        TokenManagerConfig { backoff_max_ms: 24 * 3600 * 1000, ..Default::default() },
    ] {
        let made = TokenManager::new(client.clone(), CLIENT_ID.into(), None, Some(config.clone()));
        assert!(matches!(made, Err(CoboOAuthError::InvalidArgument { .. })), "{config:?}");
    }
    assert!(matches!(
        OAuthClient::new(h.key.clone(), ClientConfig { total_timeout_ms: 0, ..no_retries(&h) }),
        Err(CoboOAuthError::InvalidArgument { .. })
    ));
}

#[test]
fn a_counting_store_sees_each_rotation_once() {
    // Guards the serve-stale path against saving a token twice.
    #[derive(Default)]
    struct Counting(AtomicUsize, Mutex<Option<StoredToken>>);
    impl TokenStore for Counting {
        fn load(&self, _: String) -> Result<Option<StoredToken>, CoboOAuthError> {
            Ok(self.1.lock().unwrap().clone())
        }
        fn save(&self, _: String, token: StoredToken) -> Result<(), CoboOAuthError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            *self.1.lock().unwrap() = Some(token);
            Ok(())
        }
        fn delete(&self, _: String) -> Result<(), CoboOAuthError> {
            Ok(())
        }
    }
    let h = start();
    let store = Arc::new(Counting::default());
    h.server.set_token_ttls(600, 30 * 24 * 3600);
    let manager = manager(&h, store.clone(), TokenManagerConfig { refresh_margin_secs: 3600, ..no_backoff() });
    for _ in 0..5 {
        manager.access_token(ORG.into()).unwrap();
    }
    assert_eq!(store.0.load(Ordering::SeqCst), 5, "a stale token renews on each call here, saved once each");
}
