//! The control API under /_mock, as tests in other languages use it.

mod common;

use cobo_oauth_mock::{MockConfig, MockServer};
use common::*;
use serde_json::json;

#[test]
fn register_apps_queue_faults_read_counters_reset() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let key = AppKey::from_seed(3);

    // Nothing registered yet.
    assert_eq!(
        get(&server, &key, ORG_ID).unwrap().oauth_error().1,
        "invalid_client"
    );

    let app =
        json!({"client_id": CLIENT_ID, "api_key": key.api_key().to_uppercase(), "orgs": [ORG_ID]});
    let resp = control(&server, "POST", "/apps", &app.to_string());
    assert_eq!((resp.status, resp.json()), (200, json!({"ok": true})));
    assert_eq!(get(&server, &key, ORG_ID).unwrap().status, 200);

    let fault = json!({"fault": {"kind": "oauth_error", "status": 400, "error": "invalid_grant", "error_description": "x"}, "count": 2, "operation": "get"});
    assert_eq!(
        control(&server, "POST", "/faults", &fault.to_string()).status,
        200
    );
    assert_eq!(
        get(&server, &key, ORG_ID).unwrap().oauth_error(),
        (400, "invalid_grant".into(), "x".into())
    );
    assert_eq!(
        get(&server, &key, ORG_ID).unwrap().oauth_error().1,
        "invalid_grant"
    );
    assert_eq!(get(&server, &key, ORG_ID).unwrap().status, 200);

    let counters = control(&server, "GET", "/counters", "");
    assert_eq!(
        counters.json(),
        json!({"total": 5, "get": 5, "refresh": 0, "rejected": 1, "faulted": 2, "issued": 2,
            "spent_refusals": 0, "reuse_detections": 0, "protected_accepted": 0, "protected_refused": 0,
            "nonce_reuses": 0, "nonce_out_of_window": 0})
    );

    assert_eq!(
        control(
            &server,
            "POST",
            "/faults",
            r#"{"fault": {"kind": "drop_connection"}}"#
        )
        .status,
        200
    );
    assert_eq!(control(&server, "POST", "/reset", "").status, 200);
    assert_eq!(control(&server, "GET", "/counters", "").json()["total"], 0);
    assert_eq!(
        get(&server, &key, ORG_ID).unwrap().status,
        200,
        "reset emptied the fault queue"
    );
}

#[test]
fn config_changes_ttls_of_new_tokens() {
    let (server, key) = start();
    assert_eq!(
        control(&server, "POST", "/config", r#"{"access_ttl_secs": 7}"#).status,
        200
    );
    let v = get(&server, &key, ORG_ID).unwrap().json();
    assert_eq!(v["expires_in"], 7);
    assert_eq!(
        control(&server, "POST", "/config", r#"{"refresh_ttl_secs": 0}"#).status,
        200
    );
    let v = get(&server, &key, ORG_ID).unwrap().json();
    assert_eq!(v["expires_in"], 7);
    assert_eq!(
        refresh(&server, &key, v["refresh_token"].as_str().unwrap())
            .unwrap()
            .oauth_error()
            .2,
        "the refresh token has expired"
    );
}

#[test]
fn info_repeats_the_start_line() {
    let (server, _key) = start();
    let v = control(&server, "GET", "/info", "").json();
    assert_eq!(
        v,
        json!({"base_url": server.base_url(), "control_url": server.control_url(), "response_public_key": server.response_public_key()})
    );
    assert_eq!(
        server.base_url(),
        format!("http://127.0.0.1:{}/v2", server.local_addr().port())
    );
}

#[test]
fn bad_control_requests() {
    let (server, _key) = start();
    let resp = control(&server, "POST", "/faults", r#"{"fault": {"kind": "nope"}}"#);
    assert_eq!(
        (resp.status, resp.json()["error"].clone()),
        (400, json!("invalid_request"))
    );
    let resp = control(
        &server,
        "POST",
        "/apps",
        r#"{"client_id": "a", "api_key": "1234"}"#,
    );
    assert_eq!(
        resp.json(),
        json!({"error": "invalid_request", "error_description": "api_key must be a 64-hex-char Ed25519 public key"})
    );
    assert_eq!(control(&server, "POST", "/faults", "{oops").status, 400);
    assert_eq!(control(&server, "GET", "/faults", "").status, 405);
    assert_eq!(control(&server, "GET", "/nothing", "").status, 404);
    assert!(
        control(&server, "GET", "/counters", "")
            .header("Biz-Resp-Signature")
            .is_none(),
        "the control API is unsigned"
    );
}

#[test]
fn tamper_applies_to_the_next_protected_answers_until_reset() {
    let (server, key) = start();
    let token = get(&server, &key, ORG_ID).unwrap().json()["access_token"].as_str().unwrap().to_owned();
    let wallets = |key: &AppKey| {
        let req = Signed { method: "GET", path: "/v2/wallets", query: "", body: "", nonce: nonce() };
        let auth = format!("Authorization: Bearer {token}\r\n");
        Conn::open(server.local_addr()).send_raw(&signed_request(key, &req, &auth)).unwrap()
    };
    assert_eq!(control(&server, "POST", "/tamper", r#"{"count": 2}"#).status, 200);
    assert!(!wallets(&key).signature_verifies(&server.response_public_key()));
    assert_eq!(control(&server, "POST", "/reset", "").status, 200);
    assert!(wallets(&key).signature_verifies(&server.response_public_key()), "reset cancels tampering");
    assert_eq!(control(&server, "GET", "/tamper", "").status, 405);
    let counters = control(&server, "GET", "/counters", "").json();
    assert_eq!((counters["protected_accepted"].clone(), counters["protected_refused"].clone()), (json!(1), json!(0)));
}
