//! The protocol: token issue and rotation, CoboAuth checks, errors, HTTP handling.

mod common;

use std::time::Duration;

use cobo_oauth_mock::{App, Counters};
use common::*;
use serde_json::json;

const TOKEN_PATH: &str = "/v2/oauth/token";

fn get_req(query: &str, nonce: String) -> Signed<'_> {
    Signed {
        method: "GET",
        path: TOKEN_PATH,
        query,
        body: "",
        nonce,
    }
}

fn assert_token(resp: &Resp, status: u16, public_key: &str) -> (String, String) {
    assert_eq!(resp.status, status, "{}", resp.text());
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert!(resp.signature_verifies(public_key));
    let v = resp.json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 5, "{v}");
    assert_eq!(
        (
            v["token_type"].clone(),
            v["scope"].clone(),
            v["expires_in"].clone()
        ),
        (json!("Bearer"), json!(""), json!(43199))
    );
    let (access, refresh) = (
        v["access_token"].as_str().unwrap(),
        v["refresh_token"].as_str().unwrap(),
    );
    for t in [access, refresh] {
        assert_eq!(t.len(), 64);
        assert!(t.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
    (access.to_owned(), refresh.to_owned())
}

fn assert_refused(resp: &Resp, status: u16, error: &str, description: &str, public_key: &str) {
    assert_eq!(
        resp.oauth_error(),
        (status, error.to_owned(), description.to_owned())
    );
    assert!(
        resp.signature_verifies(public_key),
        "error responses are signed too"
    );
}

#[test]
fn get_issues_a_signed_token() {
    let (server, key) = start();
    let resp = get(&server, &key, ORG_ID).unwrap();
    assert_token(&resp, 200, &server.response_public_key());
    let ts: u64 = resp.header("Biz-Timestamp").unwrap().parse().unwrap();
    assert!(ts.abs_diff(now_ms()) < 5_000);
    assert_eq!(
        server.counters(),
        Counters {
            total: 1,
            get: 1,
            issued: 1,
            ..Counters::default()
        }
    );
}

#[test]
fn refresh_rotates_and_spends_the_old_token() {
    let (server, key) = start();
    let pk = server.response_public_key();
    let (access1, refresh1) = assert_token(&get(&server, &key, ORG_ID).unwrap(), 200, &pk);
    let (access2, refresh2) = assert_token(&refresh(&server, &key, &refresh1).unwrap(), 201, &pk);
    assert_ne!(access1, access2);
    assert_ne!(refresh1, refresh2);

    let reuse = refresh(&server, &key, &refresh1).unwrap();
    assert_refused(
        &reuse,
        400,
        "invalid_grant",
        "the refresh token has already been used",
        &pk,
    );
    assert_token(&refresh(&server, &key, &refresh2).unwrap(), 201, &pk);
    let unknown = refresh(&server, &key, "not-a-token").unwrap();
    assert_refused(
        &unknown,
        400,
        "invalid_grant",
        "the refresh token is invalid",
        &pk,
    );
    assert_eq!(
        server.counters(),
        Counters {
            total: 5,
            get: 1,
            refresh: 4,
            rejected: 2,
            faulted: 0,
            issued: 3,
            spent_refusals: 1,
            ..Counters::default()
        }
    );
}

#[test]
fn expired_refresh_token_is_invalid_grant() {
    let (server, key) = start();
    server.set_token_ttls(5, 0);
    let v = get(&server, &key, ORG_ID).unwrap().json();
    assert_eq!(v["expires_in"], 5);
    let resp = refresh(&server, &key, v["refresh_token"].as_str().unwrap()).unwrap();
    assert_refused(
        &resp,
        400,
        "invalid_grant",
        "the refresh token has expired",
        &server.response_public_key(),
    );
}

#[test]
fn refresh_token_is_bound_to_its_client() {
    let (server, key) = start();
    let other = AppKey::from_seed(2);
    server.register_app(App {
        client_id: "other".into(),
        api_key: other.api_key(),
        orgs: vec![ORG_ID.into()],
    });
    let token = get(&server, &key, ORG_ID).unwrap().json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = refresh_body("other", &token);
    let req = Signed {
        method: "POST",
        path: TOKEN_PATH,
        query: "",
        body: &body,
        nonce: nonce(),
    };
    let resp = Conn::open(server.local_addr())
        .send_raw(&signed_request(&other, &req, ""))
        .unwrap();
    assert_refused(
        &resp,
        400,
        "invalid_grant",
        "the refresh token was not issued to this client_id",
        &server.response_public_key(),
    );
}

#[test]
fn nonce_replay_is_refused() {
    let (server, key) = start();
    let raw = signed_request(&key, &get_req(&get_query(CLIENT_ID, ORG_ID), nonce()), "");
    let mut conn = Conn::open(server.local_addr());
    assert_eq!(conn.send_raw(&raw).unwrap().status, 200);
    let replay = conn.send_raw(&raw).unwrap();
    assert_refused(
        &replay,
        401,
        "invalid_client",
        "Biz-Api-Nonce has already been used",
        &server.response_public_key(),
    );
    assert_eq!(server.counters().rejected, 1);
}

#[test]
fn stale_and_future_nonces_are_refused() {
    let (server, key) = start();
    let query = get_query(CLIENT_ID, ORG_ID);
    for nonce in [now_ms() - 120_000, now_ms() + 120_000] {
        let resp = Conn::open(server.local_addr())
            .send_raw(&signed_request(
                &key,
                &get_req(&query, nonce.to_string()),
                "",
            ))
            .unwrap();
        let (status, error, description) = resp.oauth_error();
        assert_eq!((status, error.as_str()), (401, "invalid_client"));
        assert!(
            description.starts_with("Biz-Api-Nonce is "),
            "{description}"
        );
    }
    let resp = Conn::open(server.local_addr())
        .send_raw(&signed_request(&key, &get_req(&query, "12ab".into()), ""))
        .unwrap();
    assert_refused(
        &resp,
        401,
        "invalid_client",
        "Biz-Api-Nonce is not a millisecond timestamp",
        &server.response_public_key(),
    );
}

#[test]
fn wrong_keys_and_bad_signatures_are_refused() {
    let (server, key) = start();
    let pk = server.response_public_key();
    let query = get_query(CLIENT_ID, ORG_ID);

    let stranger = AppKey::from_seed(9);
    let resp = Conn::open(server.local_addr())
        .send_raw(&signed_request(&stranger, &get_req(&query, nonce()), ""))
        .unwrap();
    assert_refused(
        &resp,
        401,
        "invalid_client",
        "the API key is not registered",
        &pk,
    );

    // A key registered for another app may not fetch this app's tokens.
    let other = AppKey::from_seed(2);
    server.register_app(App {
        client_id: "other".into(),
        api_key: other.api_key(),
        orgs: vec![],
    });
    let resp = Conn::open(server.local_addr())
        .send_raw(&signed_request(&other, &get_req(&query, nonce()), ""))
        .unwrap();
    assert_refused(
        &resp,
        401,
        "invalid_client",
        "the API key is not the one registered for this client_id",
        &pk,
    );

    // Signed over one query, sent with another.
    let raw = String::from_utf8(signed_request(&key, &get_req(&query, nonce()), "")).unwrap();
    let tampered = raw.replacen("org_id=org-1", "org_id=org-2", 1);
    let resp = Conn::open(server.local_addr())
        .send_raw(tampered.as_bytes())
        .unwrap();
    assert_refused(
        &resp,
        401,
        "invalid_client",
        "signature verification failed",
        &pk,
    );

    let unsigned = format!("GET {TOKEN_PATH}?{query} HTTP/1.1\r\nHost: x\r\n\r\n");
    let resp = Conn::open(server.local_addr())
        .send_raw(unsigned.as_bytes())
        .unwrap();
    assert_refused(
        &resp,
        401,
        "invalid_client",
        "missing Biz-Api-Key header",
        &pk,
    );
    assert_eq!(server.counters().rejected, 4);
}

#[test]
fn header_names_are_case_insensitive() {
    let (server, key) = start();
    let raw = String::from_utf8(signed_request(
        &key,
        &get_req(&get_query(CLIENT_ID, ORG_ID), nonce()),
        "",
    ))
    .unwrap();
    let lower = raw
        .replace("Biz-Api-Key", "biz-api-key")
        .replace("Biz-Api-Nonce", "BIZ-API-NONCE");
    assert_eq!(
        Conn::open(server.local_addr())
            .send_raw(lower.as_bytes())
            .unwrap()
            .status,
        200
    );
}

#[test]
fn the_raw_query_is_what_is_signed() {
    let (server, key) = start();
    // Any order and percent-encoding the client chose, signed byte for byte.
    let query = "grant_type=org_implicit&org_id=org%2D1&client_id=test-client";
    let resp = Conn::open(server.local_addr())
        .send_raw(&signed_request(&key, &get_req(query, nonce()), ""))
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
}

#[test]
fn org_and_client_checks() {
    let (server, key) = start();
    let pk = server.response_public_key();
    let resp = get(&server, &key, "org-x").unwrap();
    assert_refused(
        &resp,
        403,
        "unauthorized_client",
        "the app test-client is not installed in organization org-x",
        &pk,
    );

    let send = |query: &str| {
        Conn::open(server.local_addr())
            .send_raw(&signed_request(&key, &get_req(query, nonce()), ""))
            .unwrap()
    };
    let resp = send(&get_query("nobody", ORG_ID));
    assert_refused(
        &resp,
        401,
        "invalid_client",
        "unknown client_id nobody",
        &pk,
    );
    let resp = send("client_id=test-client&org_id=&grant_type=org_implicit");
    assert_refused(
        &resp,
        400,
        "invalid_request",
        "missing required parameter org_id",
        &pk,
    );
    let resp = send("client_id=test-client&org_id=org-1&grant_type=client_credentials");
    assert_refused(
        &resp,
        400,
        "unsupported_grant_type",
        "grant_type must be org_implicit, not client_credentials",
        &pk,
    );
}

#[test]
fn refresh_body_errors() {
    let (server, key) = start();
    let pk = server.response_public_key();
    let send = |body: &str| {
        let req = Signed {
            method: "POST",
            path: TOKEN_PATH,
            query: "",
            body,
            nonce: nonce(),
        };
        Conn::open(server.local_addr())
            .send_raw(&signed_request(&key, &req, ""))
            .unwrap()
    };
    assert_refused(
        &send("{not json"),
        400,
        "invalid_request",
        "the request body is not valid JSON",
        &pk,
    );
    assert_refused(
        &send(""),
        400,
        "invalid_request",
        "the request body is not valid JSON",
        &pk,
    );
    assert_refused(
        &send(r#"{"client_id":"test-client","grant_type":"refresh_token"}"#),
        400,
        "invalid_request",
        "missing required field refresh_token",
        &pk,
    );
    let wrong = r#"{"client_id":"test-client","grant_type":"org_implicit","refresh_token":"x"}"#;
    assert_refused(
        &send(wrong),
        400,
        "unsupported_grant_type",
        "grant_type must be refresh_token, not org_implicit",
        &pk,
    );
}

#[test]
fn unknown_paths_and_methods() {
    let (server, _key) = start();
    let pk = server.response_public_key();
    let mut conn = Conn::open(server.local_addr());
    let resp = conn
        .send_raw(b"GET /v2/transactions HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_refused(
        &resp,
        404,
        "not_found",
        "no such endpoint: /v2/transactions",
        &pk,
    );
    let resp = conn
        .send_raw(b"DELETE /v2/oauth/token HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_refused(
        &resp,
        405,
        "invalid_request",
        "method DELETE is not allowed here",
        &pk,
    );
    assert_eq!(
        server.counters(),
        Counters {
            total: 2,
            rejected: 1,
            ..Counters::default()
        }
    );
}

#[test]
fn keep_alive_serves_many_requests_until_close() {
    let (server, key) = start();
    let mut conn = Conn::open(server.local_addr());
    let token = conn
        .send_raw(&signed_request(
            &key,
            &get_req(&get_query(CLIENT_ID, ORG_ID), nonce()),
            "",
        ))
        .unwrap()
        .json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = refresh_body(CLIENT_ID, &token);
    let req = Signed {
        method: "POST",
        path: TOKEN_PATH,
        query: "",
        body: &body,
        nonce: nonce(),
    };
    let resp = conn.send_raw(&signed_request(&key, &req, "")).unwrap();
    assert_eq!(
        (resp.status, resp.header("Connection")),
        (201, Some("keep-alive"))
    );
    let resp = conn
        .send_raw(&signed_request(
            &key,
            &get_req(&get_query(CLIENT_ID, ORG_ID), nonce()),
            "Connection: close\r\n",
        ))
        .unwrap();
    assert_eq!(
        (resp.status, resp.header("Connection")),
        (200, Some("close"))
    );
    assert!(conn.is_closed());
    assert_eq!(server.counters().issued, 3);
}

#[test]
fn chunked_bodies_are_signed_decoded() {
    let (server, key) = start();
    let token = get(&server, &key, ORG_ID).unwrap().json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = refresh_body(CLIENT_ID, &token);
    let req = Signed {
        method: "POST",
        path: TOKEN_PATH,
        query: "",
        body: "",
        nonce: nonce(),
    };
    let signature = key.sign("POST", TOKEN_PATH, &req.nonce, "", &body);
    let (a, b) = body.split_at(10);
    let raw = format!(
        "POST {TOKEN_PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nBiz-Api-Key: {}\r\nBiz-Api-Nonce: {}\r\nBiz-Api-Signature: {signature}\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        key.api_key(),
        req.nonce,
        a.len(),
        b.len()
    );
    let resp = Conn::open(server.local_addr())
        .send_raw(raw.as_bytes())
        .unwrap();
    assert_eq!(resp.status, 201, "{}", resp.text());
}

#[test]
fn malformed_http_gets_400_and_close() {
    let (server, _key) = start();
    let pk = server.response_public_key();
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /v2/oauth/token HTTP/9\r\n\r\n",
        b"POST /x HTTP/1.1\r\nContent-Length: zz\r\n\r\n",
    ] {
        let mut conn = Conn::open(server.local_addr());
        let resp = conn.send_raw(raw).unwrap();
        assert_eq!(
            (resp.status, resp.header("Connection")),
            (400, Some("close"))
        );
        assert_eq!(resp.json()["error"], "invalid_request");
        assert!(resp.signature_verifies(&pk));
        assert!(conn.is_closed());
    }
    let mut conn = Conn::open(server.local_addr());
    let resp = conn
        .send_raw(b"POST /v2/oauth/token HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n")
        .unwrap();
    assert_eq!(resp.status, 413);
    // The server still serves new connections.
    assert_eq!(control(&server, "GET", "/counters", "").status, 200);
}

#[test]
fn shutdown_closes_open_connections_and_stops_accepting() {
    let (server, key) = start();
    let addr = server.local_addr();
    let mut conn = Conn::open(addr);
    assert_eq!(
        conn.send_raw(&signed_request(
            &key,
            &get_req(&get_query(CLIENT_ID, ORG_ID), nonce()),
            ""
        ))
        .unwrap()
        .status,
        200
    );
    conn.set_timeout(Duration::from_secs(5));
    server.shutdown();
    assert!(conn.is_closed());
    assert!(std::net::TcpStream::connect(addr).is_err());
}
