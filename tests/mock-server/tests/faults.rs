//! Every fault kind, exactly as it appears on the wire.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use cobo_oauth_mock::{Fault, FaultTarget, MockServer};
use common::*;
use serde_json::json;

fn get_raw(key: &AppKey) -> Vec<u8> {
    let query = get_query(CLIENT_ID, ORG_ID);
    signed_request(
        key,
        &Signed {
            method: "GET",
            path: "/v2/oauth/token",
            query: &query,
            body: "",
            nonce: nonce(),
        },
        "",
    )
}

/// Sends `raw` and reads until the server closes.
fn exchange_to_eof(server: &MockServer, raw: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(raw).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    out
}

fn faulted_get(fault: Fault) -> (MockServer, Resp) {
    let (server, key) = start();
    server.inject(fault, 1);
    let resp = get(&server, &key, ORG_ID).unwrap();
    (server, resp)
}

fn assert_token_shape(resp: &Resp) {
    let v = resp.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["access_token"].as_str().unwrap().len(), 64);
    assert_eq!(v["refresh_token"].as_str().unwrap().len(), 64);
    assert_eq!(v["expires_in"], 43199);
}

#[test]
fn server_error_is_a_signed_error_response() {
    let fault = Fault::ServerError {
        status: 502,
        error_code: 12009,
        error_message: "Upstream broke".into(),
        error_id: Some("0123456789abcdef0123456789abcdef".into()),
    };
    let (server, resp) = faulted_get(fault);
    assert_eq!(resp.status, 502);
    assert_eq!(
        resp.json(),
        json!({"error_code": 12009, "error_message": "Upstream broke", "error_id": "0123456789abcdef0123456789abcdef"})
    );
    assert!(resp.signature_verifies(&server.response_public_key()));

    let fault: Fault = serde_json::from_str(r#"{"kind":"server_error"}"#).unwrap();
    let (_server, resp) = faulted_get(fault);
    let v = resp.json();
    assert_eq!(
        (
            resp.status,
            v["error_code"].clone(),
            v["error_message"].clone()
        ),
        (500, json!(12001), json!("Internal server error"))
    );
    let id = v["error_id"].as_str().unwrap();
    assert!(
        id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
}

#[test]
fn oauth_error_is_a_signed_4xx() {
    let fault = Fault::OAuthError {
        status: 401,
        error: "invalid_client".into(),
        error_description: "Injected".into(),
    };
    let (server, resp) = faulted_get(fault);
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.json(),
        json!({"error": "invalid_client", "error_description": "Injected"})
    );
    assert!(resp.signature_verifies(&server.response_public_key()));
    assert_eq!(server.counters().rejected, 0, "a fault is not a rejection");
}

#[test]
fn unsigned_is_a_plain_proxy_page() {
    for (status, text) in [
        (414, "Request-URI Too Large"),
        (429, "Too Many Requests"),
        (502, "Bad Gateway"),
        (503, "Service Unavailable"),
    ] {
        let (_server, resp) = faulted_get(Fault::Unsigned { status, retry_after_secs: None, retry_after_as_date: false });
        assert_eq!((resp.status, resp.text().as_str()), (status, text));
        assert_eq!(
            resp.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
        assert!(
            resp.header("Biz-Timestamp").is_none() && resp.header("Biz-Resp-Signature").is_none()
        );
    }
}

#[test]
fn malformed_missing_and_wrongly_typed_bodies_are_signed_200s() {
    let (server, resp) = faulted_get(Fault::MalformedJson);
    assert_eq!(resp.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&resp.body).is_err());
    assert!(resp.signature_verifies(&server.response_public_key()));

    let (server, resp) = faulted_get(Fault::MissingFields);
    assert_eq!(
        (resp.status, resp.json()),
        (200, json!({"token_type": "Bearer", "scope": ""}))
    );
    assert!(resp.signature_verifies(&server.response_public_key()));

    let (server, resp) = faulted_get(Fault::WrongTypes);
    let v = resp.json();
    assert_eq!(
        (
            resp.status,
            v["access_token"].clone(),
            v["expires_in"].clone()
        ),
        (200, json!(12345), json!("43199"))
    );
    assert!(resp.signature_verifies(&server.response_public_key()));
}

#[test]
fn bad_and_missing_signatures() {
    let (server, resp) = faulted_get(Fault::BadSignature);
    assert_eq!(resp.status, 200);
    assert_token_shape(&resp);
    assert_eq!(resp.header("Biz-Resp-Signature").unwrap().len(), 128);
    assert!(resp.header("Biz-Timestamp").is_some());
    assert!(!resp.signature_verifies(&server.response_public_key()));

    let (_server, resp) = faulted_get(Fault::MissingSignature);
    assert_eq!(resp.status, 200);
    assert_token_shape(&resp);
    assert!(resp.header("Biz-Timestamp").is_none() && resp.header("Biz-Resp-Signature").is_none());
}

#[test]
fn truncated_body_announces_more_than_it_sends() {
    let (server, key) = start();
    server.inject(Fault::TruncatedBody, 1);
    let raw = String::from_utf8(exchange_to_eof(&server, &get_raw(&key))).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
    let announced: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        !body.is_empty() && body.len() < announced,
        "{} of {announced}",
        body.len()
    );
    assert!(body.starts_with(r#"{"access_token":""#));
}

#[test]
fn drop_connection_writes_nothing() {
    let (server, key) = start();
    server.inject(Fault::DropConnection, 1);
    assert!(exchange_to_eof(&server, &get_raw(&key)).is_empty());
    assert_eq!(
        get(&server, &key, ORG_ID).unwrap().status,
        200,
        "only one request was faulted"
    );
}

#[test]
fn delay_then_processes_normally() {
    let (server, key) = start();
    server.inject(Fault::Delay { delay_ms: 300 }, 1);
    let started = Instant::now();
    let resp = get(&server, &key, ORG_ID).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(resp.status, 200);
    assert!(resp.signature_verifies(&server.response_public_key()));
    let c = server.counters();
    assert_eq!((c.faulted, c.issued), (1, 1));

    // A client that gives up early sees nothing until its timeout.
    server.inject(Fault::Delay { delay_ms: 500 }, 1);
    let mut conn = Conn::open(server.local_addr());
    conn.set_timeout(Duration::from_millis(100));
    let err = conn.send_raw(&get_raw(&key)).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err:?}"
    );
}

#[test]
fn a_faulted_refresh_does_not_rotate() {
    let (server, key) = start();
    let token = get(&server, &key, ORG_ID).unwrap().json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    server.inject_for(Fault::DropConnection, 1, FaultTarget::Refresh);
    assert!(refresh(&server, &key, &token).is_err());
    assert_eq!(
        refresh(&server, &key, &token).unwrap().status,
        201,
        "the token was not spent by the faulted request"
    );
}

#[test]
fn faults_follow_count_and_operation() {
    let (server, key) = start();
    server.inject_for(Fault::Unsigned { status: 503, retry_after_secs: None, retry_after_as_date: false }, 2, FaultTarget::Refresh);
    server.inject_for(Fault::Unsigned { status: 429, retry_after_secs: None, retry_after_as_date: false }, 1, FaultTarget::Get);
    assert_eq!(get(&server, &key, ORG_ID).unwrap().status, 429);
    let token = get(&server, &key, ORG_ID).unwrap().json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(refresh(&server, &key, &token).unwrap().status, 503);
    assert_eq!(refresh(&server, &key, &token).unwrap().status, 503);
    assert_eq!(refresh(&server, &key, &token).unwrap().status, 201);
    let c = server.counters();
    assert_eq!(
        (c.get, c.refresh, c.faulted, c.issued, c.total),
        (2, 3, 3, 2, 5)
    );

    server.inject(Fault::MalformedJson, 5);
    server.reset();
    assert_eq!(server.counters(), Default::default());
    assert_eq!(
        get(&server, &key, ORG_ID).unwrap().status,
        200,
        "reset cleared the queue"
    );
}

#[test]
fn faults_apply_before_authentication() {
    let (server, _key) = start();
    server.inject(Fault::Unsigned { status: 502, retry_after_secs: None, retry_after_as_date: false }, 1);
    let stranger = AppKey::from_seed(7);
    assert_eq!(get(&server, &stranger, ORG_ID).unwrap().status, 502);
}
