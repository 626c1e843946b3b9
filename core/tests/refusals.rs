//! Refusals a WaaS call recovers from, through reqwest's `CoboAuth::send` against the
//! mock: a token family revoked (or expired) behind the manager's back is renewed once
//! for every caller, and the call goes through.

mod common;

use std::sync::Arc;

use cobo_oauth::{CoboAuth, OAuthClient, ResponseVerifier, TokenManager};
use cobo_oauth_mock::{MockConfig, MockServer};

const CLIENT_ID: &str = "refusals-app";
const ORG: &str = "org-refusals";

struct Harness {
    server: MockServer,
    auth: Arc<CoboAuth>,
    http: reqwest::blocking::Client,
}

impl Harness {
    fn start() -> Harness {
        let (server, key) = common::mock_with_app(MockConfig { strict_rotation: true, ..MockConfig::default() }, CLIENT_ID, &[ORG]);
        let config = common::client_config(&server);
        let client = OAuthClient::new(key.clone(), config).unwrap();
        let manager = Arc::new(TokenManager::new(Arc::new(client), CLIENT_ID.into(), None, None).unwrap());
        let verifier = ResponseVerifier::with_key(server.response_public_key()).unwrap();
        Harness { auth: Arc::new(CoboAuth::new(key, manager, verifier)), server, http: reqwest::blocking::Client::new() }
    }

    fn call(&self) -> u16 {
        let request = self.http.get(format!("{}/wallets", self.server.base_url())).build().unwrap();
        self.auth.send(&self.http, request, ORG).unwrap().status.as_u16()
    }
}

fn recovers(expire_only: bool) {
    let harness = Harness::start();
    assert_eq!(harness.call(), 200);
    assert_eq!(harness.server.revoke_org(ORG, expire_only), 1);

    assert_eq!(harness.call(), 200, "the next call succeeds");
    let counters = harness.server.counters();
    assert!(counters.issued <= 1 + 2, "at most 2 renewals: {counters:?}");
    assert_eq!((counters.protected_refused, counters.reuse_detections), (1, 0), "{counters:?}");

    // 100 callers at once against a token revoked again: one renewal serves them all.
    harness.server.revoke_org(ORG, expire_only);
    let issued = harness.server.counters().issued;
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..100).map(|_| scope.spawn(|| harness.call())).collect();
        calls.into_iter().map(|call| call.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    let counters = harness.server.counters();
    assert_eq!(counters.issued, issued + 1, "one renewal for 100 callers: {counters:?}");
    assert_eq!(counters.reuse_detections, 0, "{counters:?}");
}

#[test]
fn a_revoked_family_is_renewed_once_and_the_call_goes_through() {
    recovers(false);
}

#[test]
fn expired_access_tokens_are_renewed_once_and_the_call_goes_through() {
    recovers(true);
}
