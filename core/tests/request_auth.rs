//! CoboAuth for reqwest against the mock's protected endpoint: what reqwest sends is
//! what gets signed, the token is renewed before it expires, tampered answers fail.

mod common;

#[path = "snippets/calling_waas.rs"]
mod calling_waas;

use std::sync::Arc;
use std::time::Duration;

use cobo_oauth::{
    AppKey, ClientConfig, CoboAuth, CoboOAuthError, OAuthClient, ResponseVerifier, TokenManager, TokenManagerConfig,
};
use cobo_oauth_mock::{App, MockConfig, MockServer};
use serde_json::{json, Value};

const CLIENT_ID: &str = "hooks-app";
const ORG: &str = "org-hooks";
/// Every character a query value must have encoded, and one that must not be.
const AWKWARD: &str = "a b+c&d=e/f~é";

struct Harness {
    server: MockServer,
    key: Arc<AppKey>,
    manager: Arc<TokenManager>,
    http: reqwest::blocking::Client,
}

impl Harness {
    fn start() -> Harness {
        let (server, key) = common::mock_with_app(MockConfig::default(), CLIENT_ID, &[ORG]);
        let client = OAuthClient::new(key.clone(), config(&server)).unwrap();
        let margin = TokenManagerConfig { refresh_margin_secs: 0, ..TokenManagerConfig::default() };
        let manager = TokenManager::new(Arc::new(client), CLIENT_ID.into(), None, Some(margin)).unwrap();
        Harness { server, key, manager: Arc::new(manager), http: reqwest::blocking::Client::new() }
    }

    fn auth(&self) -> CoboAuth {
        let verifier = ResponseVerifier::with_key(self.server.response_public_key()).unwrap();
        CoboAuth::new(self.key.clone(), self.manager.clone(), verifier)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    fn echo(&self, auth: &CoboAuth, request: reqwest::blocking::RequestBuilder) -> Result<Value, CoboOAuthError> {
        let response = auth.send(&self.http, request.build().unwrap(), ORG)?;
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
        Ok(serde_json::from_slice::<Value>(&response.body).unwrap()["request"].clone())
    }
}

fn config(server: &MockServer) -> ClientConfig {
    ClientConfig { max_retries: 0, ..common::client_config(&server) }
}

#[test]
fn get_with_an_encoded_query_and_post_with_json_are_accepted() {
    let h = Harness::start();
    let auth = h.auth();
    let echo = h.echo(&auth, h.http.get(h.url("/wallets")).query(&[("name", AWKWARD), ("limit", "10")])).unwrap();
    assert_eq!(echo["params"], json!([["name", AWKWARD], ["limit", "10"]]));
    assert_eq!(echo["query"], json!("name=a+b%2Bc%26d%3De%2Ff%7E%C3%A9&limit=10"), "signed as sent");

    // A query written by hand is sent, and signed, as written.
    let echo = h.echo(&auth, h.http.get(h.url("/wallets/w%201?x=%7e~&y"))).unwrap();
    assert_eq!((echo["path"].clone(), echo["query"].clone()), (json!("/v2/wallets/w%201"), json!("x=%7e~&y")));

    let body = json!({"chain_id": "ETH", "name": AWKWARD});
    let post = h.http.post(h.url("/wallets")).header("Content-Type", "application/json").body(body.to_string());
    let echo = h.echo(&auth, post).unwrap();
    assert_eq!((echo["method"].clone(), echo["body"].clone()), (json!("POST"), body));
    let counters = h.server.counters();
    assert_eq!((counters.protected_accepted, counters.protected_refused), (3, 0));
}

#[test]
fn a_tampered_response_is_rejected_unless_verification_is_off() {
    let h = Harness::start();
    h.server.tamper_next_protected(1);
    let err = h.echo(&h.auth(), h.http.get(h.url("/wallets"))).unwrap_err();
    assert!(matches!(err, CoboOAuthError::ResponseSignature { .. }), "{err:?}");

    h.server.tamper_next_protected(1);
    let unchecked = h.auth().without_response_verification();
    let response = unchecked.send(&h.http, h.http.get(h.url("/wallets")).build().unwrap(), ORG).unwrap();
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["pagination"]["total_count"], json!(1_000_000));
}

#[test]
fn an_expired_token_is_renewed_before_the_call() {
    let h = Harness::start();
    h.server.set_token_ttls(1, 3600);
    let auth = h.auth();
    h.echo(&auth, h.http.get(h.url("/wallets"))).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    h.server.set_token_ttls(3600, 3600);
    h.echo(&auth, h.http.get(h.url("/wallets"))).unwrap();
    let counters = h.server.counters();
    assert_eq!((counters.get, counters.refresh), (1, 1), "renewed by the clock");
    assert_eq!((counters.protected_accepted, counters.protected_refused), (2, 0), "never sent a dead token");
}

#[test]
fn a_dead_token_of_an_uninstalled_org_needs_authorization() {
    let h = Harness::start();
    let auth = h.auth();
    h.echo(&auth, h.http.get(h.url("/wallets"))).unwrap();
    // The org uninstalls the app: its token dies, Cobo answers 500 (signed) naming it;
    // the hook invalidates it, and the renewal learns the org withdrew the app.
    h.server.register_app(App { client_id: CLIENT_ID.into(), api_key: h.key.api_key(), orgs: vec![] });
    let refused = auth.send(&h.http, h.http.get(h.url("/wallets")).build().unwrap(), ORG);
    assert!(matches!(refused, Err(CoboOAuthError::AuthorizationRequired { .. })), "{refused:?}");
    let counters = h.server.counters();
    assert_eq!((counters.protected_refused, counters.get), (1, 2), "one call, one renewal: {counters:?}");
}

#[test]
fn sixteen_threads_share_one_hook_with_unique_nonces() {
    let h = Arc::new(Harness::start());
    let auth = Arc::new(h.auth());
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (h, auth) = (h.clone(), auth.clone());
            std::thread::spawn(move || {
                for j in 0..8 {
                    let query = [("thread", i.to_string()), ("call", j.to_string())];
                    let echo = h.echo(&auth, h.http.get(h.url("/wallets")).query(&query)).unwrap();
                    assert_eq!(echo["params"][0][1], json!(i.to_string()));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    // The mock refuses a reused nonce: every call accepted means every nonce was unique.
    let counters = h.server.counters();
    assert_eq!((counters.protected_accepted, counters.protected_refused, counters.get), (128, 0, 1));
}

#[test]
fn the_token_and_key_stay_out_of_debug_output_and_errors() {
    let h = Harness::start();
    let auth = h.auth();
    let mut request = h.http.get(h.url("/wallets")).build().unwrap();
    auth.authorize(&mut request, ORG).unwrap();
    let token = h.manager.access_token(ORG.into()).unwrap();
    let private = h.key.private_key_hex();
    h.server.tamper_next_protected(1);
    let err = auth.send(&h.http, h.http.get(h.url("/wallets")).build().unwrap(), ORG).unwrap_err();
    for text in [format!("{auth:?}"), format!("{request:?}"), format!("{err:?}"), err.to_string()] {
        assert!(!text.contains(token.expose()), "token in {text}");
        assert!(!text.contains(private.expose()), "key in {text}");
    }
    let header = request.headers()["authorization"].to_str().unwrap();
    assert_eq!(header, format!("Bearer {}", token.expose()));
}

#[test]
fn a_streamed_body_is_refused_before_anything_is_sent() {
    let h = Harness::start();
    let body = reqwest::blocking::Body::new(std::io::Cursor::new(b"{}".to_vec()));
    let mut request = h.http.post(h.url("/wallets")).body(body).build().unwrap();
    let err = h.auth().authorize(&mut request, ORG).unwrap_err();
    assert!(matches!(err, CoboOAuthError::InvalidArgument { .. }), "{err:?}");
    assert_eq!(h.server.counters().total, 0);
}

#[test]
fn the_readme_snippet_lists_wallets() {
    let h = Harness::start();
    let verifier = ResponseVerifier::with_key(h.server.response_public_key()).unwrap();
    let wallets = calling_waas::list_wallets(h.key.clone(), config(&h.server), verifier, CLIENT_ID, ORG).unwrap();
    assert_eq!(wallets["request"]["query"], json!("wallet_type=Custodial&limit=10"));
    assert_eq!(wallets["data"], json!([]));
}
