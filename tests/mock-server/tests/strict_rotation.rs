//! Strict rotation: a spent refresh token presented again revokes its token family (as
//! Auth0, Okta and Ory Hydra do); without it, reuse is refused and nothing else changes.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cobo_oauth_mock::{App, Counters, MockConfig, MockServer};
use common::*;
use serde_json::json;

const ORG_2: &str = "org-2";

fn start_with(strict_rotation: bool) -> (MockServer, AppKey) {
    let key = AppKey::from_seed(5);
    let config = MockConfig {
        apps: vec![App {
            client_id: CLIENT_ID.into(),
            api_key: key.api_key(),
            orgs: vec![ORG_ID.into(), ORG_2.into()],
        }],
        strict_rotation,
        // The load test signs faster than one nonce per millisecond, so its nonces run
        // ahead of the clock.
        nonce_window_ms: 3_600_000,
        ..MockConfig::default()
    };
    (MockServer::start(config).unwrap(), key)
}

struct Pair {
    access: String,
    refresh: String,
}

fn pair(resp: &Resp, status: u16) -> Pair {
    assert_eq!(resp.status, status, "{}", resp.text());
    let v = resp.json();
    Pair {
        access: v["access_token"].as_str().unwrap().to_owned(),
        refresh: v["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// Requests on one keep-alive connection.
struct Client<'a> {
    conn: Conn,
    key: &'a AppKey,
}

impl Client<'_> {
    fn open<'a>(server: &MockServer, key: &'a AppKey) -> Client<'a> {
        Client { conn: Conn::open(server.local_addr()), key }
    }

    fn send(&mut self, method: &str, path: &str, query: &str, body: &str, extra: &str) -> Resp {
        let req = Signed { method, path, query, body, nonce: nonce() };
        self.conn.send_raw(&signed_request(self.key, &req, extra)).unwrap()
    }

    fn get(&mut self, org_id: &str) -> Resp {
        self.send("GET", "/v2/oauth/token", &get_query(CLIENT_ID, org_id), "", "")
    }

    fn refresh(&mut self, refresh_token: &str) -> Resp {
        self.send("POST", "/v2/oauth/token", "", &refresh_body(CLIENT_ID, refresh_token), "")
    }

    fn wallets(&mut self, access_token: &str) -> Resp {
        self.send("GET", "/v2/wallets", "", "", &format!("Authorization: Bearer {access_token}\r\n"))
    }
}

fn assert_spent(resp: &Resp) {
    assert_eq!(
        resp.oauth_error(),
        (400, "invalid_grant".into(), "the refresh token has already been used".into())
    );
}

fn assert_revoked_refresh(resp: &Resp) {
    assert_eq!(
        resp.oauth_error(),
        (400, "invalid_grant".into(), "the refresh token has been revoked".into())
    );
}

fn assert_revoked_access(resp: &Resp) {
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert_eq!(resp.json()["error_message"], json!("the access token has been revoked"));
}

#[test]
fn strict_reuse_revokes_the_whole_family_and_nothing_else() {
    let (server, key) = start_with(true);
    let mut c = Client::open(&server, &key);
    let first = pair(&c.get(ORG_ID), 200);
    let second = pair(&c.refresh(&first.refresh), 201);
    let newest = pair(&c.refresh(&second.refresh), 201);
    let sibling = pair(&c.get(ORG_ID), 200); // same org and app, another family
    let other_org = pair(&c.get(ORG_2), 200);
    assert_eq!(c.wallets(&newest.access).status, 200);

    assert_spent(&c.refresh(&first.refresh));
    for access in [&first.access, &second.access, &newest.access] {
        assert_revoked_access(&c.wallets(access));
    }
    assert_revoked_refresh(&c.refresh(&newest.refresh));
    assert_spent(&c.refresh(&second.refresh));

    for untouched in [&sibling, &other_org] {
        assert_eq!(c.wallets(&untouched.access).status, 200);
        let next = pair(&c.refresh(&untouched.refresh), 201);
        assert_eq!(c.wallets(&next.access).status, 200);
    }
    assert_eq!(
        server.counters(),
        Counters {
            total: 18,
            get: 3,
            refresh: 7,
            rejected: 3,
            issued: 7,
            spent_refusals: 3,
            reuse_detections: 1,
            protected_accepted: 5,
            protected_refused: 3,
            ..Counters::default()
        }
    );
}

#[test]
fn without_strict_rotation_reuse_is_refused_and_revokes_nothing() {
    let (server, key) = start_with(false);
    let mut c = Client::open(&server, &key);
    let first = pair(&c.get(ORG_ID), 200);
    let newest = pair(&c.refresh(&first.refresh), 201);
    assert_spent(&c.refresh(&first.refresh));
    assert_spent(&c.refresh(&first.refresh));
    assert_eq!(c.wallets(&first.access).status, 200, "access tokens live until they expire");
    assert_eq!(c.wallets(&newest.access).status, 200);
    pair(&c.refresh(&newest.refresh), 201);
    let counters = server.counters();
    assert_eq!(
        (counters.issued, counters.spent_refusals, counters.reuse_detections, counters.protected_refused),
        (3, 2, 0, 0)
    );
}

#[test]
fn the_control_api_switches_strict_rotation_and_reset_clears_its_counters() {
    let (server, key) = start_with(false);
    let mut c = Client::open(&server, &key);
    let first = pair(&c.get(ORG_ID), 200);
    let newest = pair(&c.refresh(&first.refresh), 201);
    assert_spent(&c.refresh(&first.refresh));
    assert_eq!(c.wallets(&newest.access).status, 200);

    let on = control(&server, "POST", "/config", r#"{"strict_rotation": true}"#);
    assert_eq!((on.status, on.json()), (200, json!({"ok": true})));
    // Families are tracked in both modes, so tokens issued before the switch count.
    assert_spent(&c.refresh(&first.refresh));
    assert_revoked_access(&c.wallets(&newest.access));
    assert_revoked_refresh(&c.refresh(&newest.refresh));

    let counters = control(&server, "GET", "/counters", "").json();
    assert_eq!(
        counters,
        json!({"total": 7, "get": 1, "refresh": 4, "rejected": 3, "faulted": 0, "issued": 2,
            "spent_refusals": 3, "reuse_detections": 1, "protected_accepted": 1, "protected_refused": 1,
            "nonce_reuses": 0, "nonce_out_of_window": 0})
    );

    // Switching back changes later reuse only; a revoked family stays revoked.
    assert_eq!(control(&server, "POST", "/config", r#"{"strict_rotation": false}"#).status, 200);
    let fresh = pair(&c.get(ORG_ID), 200);
    let fresh_next = pair(&c.refresh(&fresh.refresh), 201);
    assert_spent(&c.refresh(&fresh.refresh));
    assert_eq!(c.wallets(&fresh_next.access).status, 200);
    assert_revoked_access(&c.wallets(&newest.access));

    assert_eq!(control(&server, "POST", "/config", r#"{"strict_rotation": "yes"}"#).status, 400);
    assert_eq!(control(&server, "POST", "/reset", "").status, 200);
    assert_eq!(server.counters(), Counters::default());

    server.set_strict_rotation(true);
    assert_spent(&c.refresh(&fresh.refresh));
    assert_revoked_access(&c.wallets(&fresh_next.access));
    assert_eq!((server.counters().spent_refusals, server.counters().reuse_detections), (1, 1));
}

/// 64 connections rotate tokens and call the protected endpoint at once; some of them
/// reuse a spent token once. Every answer and every counter must add up.
/// `COBO_OAUTH_MOCK_LOAD_SECS` sets how long it runs (default 2).
#[test]
fn strict_rotation_holds_under_concurrent_load() {
    const THREADS: u64 = 64;
    const REUSERS: u64 = 8; // threads 0..REUSERS reuse a spent token once, midway
    let secs: u64 = std::env::var("COBO_OAUTH_MOCK_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    let (server, key) = start_with(true);
    let (gets, refreshes, accepted) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (server, key, gets, refreshes, accepted) = (&server, &key, &gets, &refreshes, &accepted);
            scope.spawn(move || {
                let mut c = Client::open(server, key);
                let org = if thread % 2 == 0 { ORG_ID } else { ORG_2 };
                let mut current = pair(&c.get(org), 200);
                gets.fetch_add(1, Ordering::Relaxed);
                let mut reuse_at = (thread < REUSERS).then_some(10 + thread);
                let mut round = 0;
                while Instant::now() < deadline || reuse_at.is_some() {
                    round += 1;
                    let spent = current.refresh.clone();
                    current = pair(&c.refresh(&spent), 201);
                    refreshes.fetch_add(1, Ordering::Relaxed);
                    assert_eq!(c.wallets(&current.access).status, 200);
                    accepted.fetch_add(1, Ordering::Relaxed);
                    if reuse_at == Some(round) {
                        reuse_at = None;
                        assert_spent(&c.refresh(&spent));
                        assert_revoked_access(&c.wallets(&current.access));
                        assert_revoked_refresh(&c.refresh(&current.refresh));
                        current = pair(&c.get(org), 200);
                        gets.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let (gets, refreshes, accepted) = (gets.into_inner(), refreshes.into_inner(), accepted.into_inner());
    assert!(refreshes >= THREADS * 10, "only {refreshes} refreshes");
    assert_eq!(
        server.counters(),
        Counters {
            total: gets + refreshes + 2 * REUSERS + accepted + REUSERS,
            get: gets,
            refresh: refreshes + 2 * REUSERS,
            rejected: 2 * REUSERS,
            faulted: 0,
            issued: gets + refreshes,
            spent_refusals: 2 * REUSERS,
            reuse_detections: REUSERS,
            protected_accepted: accepted,
            protected_refused: REUSERS,
            nonce_reuses: 0,
            nonce_out_of_window: 0,
        }
    );
}
