//! The protected endpoint (`/v2/wallets…`): CoboAuth over the raw request, the Bearer
//! token, Cobo's 500 for a dead token, signed answers, counters and tampering.

mod common;

use std::time::Duration;

use cobo_oauth_mock::{App, Counters};
use common::*;
use serde_json::{json, Value};

fn access_token(server: &cobo_oauth_mock::MockServer, key: &AppKey) -> String {
    get(server, key, ORG_ID).unwrap().json()["access_token"].as_str().unwrap().to_owned()
}

fn call(server: &cobo_oauth_mock::MockServer, key: &AppKey, r: &Signed, bearer: Option<&str>) -> Resp {
    let auth = bearer.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    Conn::open(server.local_addr()).send_raw(&signed_request(key, r, &auth)).unwrap()
}

fn wallets<'a>(method: &'a str, path: &'a str, query: &'a str, body: &'a str) -> Signed<'a> {
    Signed { method, path, query, body, nonce: nonce() }
}

#[test]
fn accepts_raw_query_and_json_body_and_echoes_them() {
    let (server, key) = start();
    let token = access_token(&server, &key);
    let query = "name=a%20b%2Bc&x=%26%3D%2F~%C3%A9&x=2";
    let resp = call(&server, &key, &wallets("GET", "/v2/wallets", query, ""), Some(&token));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.signature_verifies(&server.response_public_key()));
    let echo = &resp.json()["request"];
    assert_eq!(echo["query"], json!(query));
    assert_eq!(echo["params"], json!([["name", "a b+c"], ["x", "&=/~é"], ["x", "2"]]));
    assert_eq!(echo["org_id"], json!(ORG_ID));

    let body = r#"{"chain_id":"ETH","note":"é"}"#;
    let resp = call(&server, &key, &wallets("POST", "/v2/wallets/abc/addresses", "", body), Some(&token));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["request"]["body"], json!({"chain_id": "ETH", "note": "é"}));
    assert_eq!(resp.json()["request"]["path"], json!("/v2/wallets/abc/addresses"));
    let counters = server.counters();
    assert_eq!((counters.protected_accepted, counters.protected_refused), (2, 0));
}

#[test]
fn the_signature_covers_what_arrived() {
    let (server, key) = start();
    let token = access_token(&server, &key);
    // Signed over the decoded query, sent encoded: the mock must refuse it.
    let nonce = nonce();
    let signature = key.sign("GET", "/v2/wallets", &nonce, "name=a b", "");
    let raw = format!(
        "GET /v2/wallets?name=a%20b HTTP/1.1\r\nHost: x\r\nBiz-Api-Key: {}\r\nBiz-Api-Nonce: {nonce}\r\nBiz-Api-Signature: {signature}\r\nAuthorization: Bearer {token}\r\n\r\n",
        key.api_key()
    );
    let resp = Conn::open(server.local_addr()).send_raw(raw.as_bytes()).unwrap();
    assert_eq!(resp.oauth_error(), (401, "invalid_client".into(), "signature verification failed".into()));
    assert_eq!(resp.json()["error_code"], 2024, "a CoboAuth refusal carries its code");
    // A replayed nonce is refused too.
    let request = wallets("GET", "/v2/wallets", "", "");
    assert_eq!(call(&server, &key, &request, Some(&token)).status, 200);
    assert_eq!(call(&server, &key, &request, Some(&token)).status, 401);
    let replayed = call(&server, &key, &request, Some(&token));
    assert_eq!((replayed.status, replayed.json()["error_code"].as_i64()), (401, Some(2041)));
    assert_eq!(
        server.counters(),
        Counters { total: 5, get: 1, issued: 1, protected_accepted: 1, protected_refused: 3, nonce_reuses: 2, ..Counters::default() }
    );
}

#[test]
fn dead_tokens_get_cobos_500() {
    let (server, key) = start();
    let missing = call(&server, &key, &wallets("GET", "/v2/wallets", "", ""), None);
    assert_eq!(missing.oauth_error().0, 401);

    let unknown = call(&server, &key, &wallets("GET", "/v2/wallets", "", ""), Some("not-issued"));
    assert_eq!(unknown.status, 500);
    assert!(unknown.signature_verifies(&server.response_public_key()));
    let body: Value = unknown.json();
    assert_eq!(body["error_message"], json!("the access token is invalid"));
    assert!(body["error_id"].as_str().is_some_and(|id| !id.is_empty()));

    server.set_token_ttls(1, 3600);
    let short = access_token(&server, &key);
    std::thread::sleep(Duration::from_millis(1100));
    let expired = call(&server, &key, &wallets("GET", "/v2/wallets", "", ""), Some(&short));
    assert_eq!((expired.status, expired.json()["error_message"].clone()), (500, json!("the access token has expired")));

    server.set_token_ttls(3600, 3600);
    let token = access_token(&server, &key);
    server.register_app(App { client_id: CLIENT_ID.into(), api_key: key.api_key(), orgs: vec![] });
    let revoked = call(&server, &key, &wallets("GET", "/v2/wallets", "", ""), Some(&token));
    assert_eq!(revoked.json()["error_message"], json!("the access token has been revoked"));
    assert_eq!(server.counters().protected_refused, 4);
}

#[test]
fn tampered_responses_fail_verification_once() {
    let (server, key) = start();
    let token = access_token(&server, &key);
    server.tamper_next_protected(1);
    let tampered = call(&server, &key, &wallets("GET", "/v2/wallets", "", ""), Some(&token));
    assert_eq!(tampered.status, 200);
    assert!(!tampered.signature_verifies(&server.response_public_key()));
    let next = call(&server, &key, &wallets("GET", "/v2/wallets", "", ""), Some(&token));
    assert!(next.signature_verifies(&server.response_public_key()));
}
