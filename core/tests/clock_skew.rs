//! A host whose clock is two minutes off Cobo's: the first answer (a refusal of the
//! nonce's timestamp, signed by Cobo) teaches the clock, the request is resent at once,
//! and a refused refresh nonce never costs the refresh token. One test in its own
//! process: the learned offset is shared by the processes using its clock directory.

mod common;

use std::sync::Arc;

use cobo_oauth::{AppKey, ClientConfig, CoboAuth, OAuthClient, ResponseVerifier, Secret, TokenManager};
use cobo_oauth_mock::MockConfig;

const CLIENT_ID: &str = "skew-app";
const ORG: &str = "org-skew";

#[test]
fn nonces_follow_cobo_clock_after_the_first_answer() {
    let dir = tempfile::tempdir().unwrap();
    // Before any nonce is drawn: this process's clock is its own.
    std::env::set_var("COBO_OAUTH_CLOCK_DIR", dir.path());
    let (server, key) = common::mock_with_app(MockConfig { strict_rotation: true, ..MockConfig::default() }, CLIENT_ID, &[ORG]);
    let config = ClientConfig { max_retries: 0, ..common::client_config(&server) };
    let client = OAuthClient::new(key.clone(), config).unwrap();
    let manager = Arc::new(TokenManager::new(Arc::new(client), CLIENT_ID.into(), None, None).unwrap());

    // This host is 120 s behind Cobo: the first GET is refused for its timestamp.
    server.set_clock_offset(120_000);
    let token = manager.access_token(ORG.into()).unwrap();
    let counters = server.counters();
    assert_eq!((counters.get, counters.nonce_out_of_window, counters.issued), (2, 1, 1), "{counters:?}");

    // Now 120 s ahead: the refresh POST is refused for its timestamp and resent; the
    // refresh token was never spent, so there is no fallback and nothing is revoked.
    server.set_clock_offset(-120_000);
    assert!(manager.invalidate(ORG.into(), token).unwrap());
    manager.access_token(ORG.into()).unwrap();
    let counters = server.counters();
    assert_eq!((counters.refresh, counters.get, counters.nonce_out_of_window), (2, 2, 2), "{counters:?}");
    assert_eq!((counters.issued, counters.spent_refusals), (2, 0), "{counters:?}");

    // A WaaS call through the hook goes through at once: the clock is learned.
    let verifier = ResponseVerifier::with_key(server.response_public_key()).unwrap();
    let auth = CoboAuth::new(key.clone(), manager, verifier);
    let http = reqwest::blocking::Client::new();
    let response = auth.send(&http, http.get(format!("{}/wallets", server.base_url())).build().unwrap(), ORG).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(server.counters().protected_refused, 0);

    // A signature that is wrong whatever the nonce: resent 3 times, then Cobo's answer.
    let other = Arc::new(AppKey::new(Secret::new("07".repeat(32))).unwrap());
    let config = ClientConfig { max_retries: 0, ..common::client_config(&server) };
    let before = server.counters().get;
    let refused = OAuthClient::new(other, config).unwrap().get_org_token(CLIENT_ID.into(), ORG.into());
    assert!(matches!(refused, Err(cobo_oauth::CoboOAuthError::OAuth { status: 401, .. })), "{refused:?}");
    assert_eq!(server.counters().get - before, 1 + 3, "3 resends, then the refusal");
}
