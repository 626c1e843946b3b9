//! tests/faults.json, the matrix every language runs, checked against the mock itself:
//! each entry is injected and the raw exchange is classified with the core's rules
//! (unsigned 414/429/500/502/503/504/520–524 → Unavailable; bad or missing signature →
//! ResponseSignature; wrong body shape → InvalidResponse; 4XX → OAuth; 5XX → Server;
//! broken connection → Transport; no whole answer within timeout_ms → Timeout).

mod common;

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::time::Duration;

use cobo_oauth_mock::{Fault, FaultTarget};
use common::*;
use serde::Deserialize;
use serde_json::{json, Value};

const MATRIX: &str = include_str!("../../faults.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    operation: String,
    fault: Value,
    client: serde_json::Map<String, Value>,
    expect: serde_json::Map<String, Value>,
}

fn entries() -> Vec<Entry> {
    serde_json::from_str(MATRIX).expect("faults.json is a JSON array of entries")
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Token {
    access_token: String,
    token_type: String,
    scope: String,
    expires_in: i64,
    refresh_token: String,
}

fn classify(result: std::io::Result<Resp>, public_key: &str) -> Value {
    let resp = match result {
        Ok(resp) => resp,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            return json!({"variant": "Timeout"})
        }
        Err(_) => return json!({"variant": "Transport"}),
    };
    let status = resp.status;
    let signed = resp.header("Biz-Resp-Signature").is_some();
    if !signed && matches!(status, 414 | 429 | 500 | 502 | 503 | 504 | 520..=524) {
        return json!({"variant": "Unavailable", "status": status});
    }
    if !resp.signature_verifies(public_key) {
        return json!({"variant": "ResponseSignature"});
    }
    let invalid = json!({"variant": "InvalidResponse", "status": status});
    let body: Value = match serde_json::from_slice(&resp.body) {
        Ok(v) => v,
        Err(_) => return invalid,
    };
    match status {
        200..=299 => match serde_json::from_value::<Token>(body) {
            Ok(_) => json!({"variant": null}),
            Err(_) => invalid,
        },
        400..=499 => match (body["error"].as_str(), body["error_description"].as_str()) {
            (Some(e), Some(d)) => {
                json!({"variant": "OAuth", "status": status, "error": e, "error_description": d})
            }
            _ => invalid,
        },
        500..=599 => match (
            body["error_code"].as_i64(),
            body["error_message"].as_str(),
            body["error_id"].as_str(),
        ) {
            (Some(c), Some(m), Some(id)) => {
                json!({"variant": "Server", "status": status, "error_code": c, "error_message": m, "error_id": id})
            }
            _ => invalid,
        },
        _ => invalid,
    }
}

fn run(entry: &Entry) -> Value {
    let (server, key) = start();
    let timeout = entry
        .client
        .get("timeout_ms")
        .and_then(Value::as_u64)
        .unwrap_or(5_000);
    let fault: Fault = serde_json::from_value(entry.fault.clone())
        .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
    let (path, query, body, target) = match entry.operation.as_str() {
        "get" => (
            "/v2/oauth/token",
            get_query(CLIENT_ID, ORG_ID),
            String::new(),
            FaultTarget::Get,
        ),
        "refresh" => {
            let token = get(&server, &key, ORG_ID).unwrap().json()["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned();
            (
                "/v2/oauth/token",
                String::new(),
                refresh_body(CLIENT_ID, &token),
                FaultTarget::Refresh,
            )
        }
        other => panic!("{}: unknown operation {other}", entry.name),
    };
    server.inject_for(fault, 1, target);
    let method = if body.is_empty() { "GET" } else { "POST" };
    let req = Signed {
        method,
        path,
        query: &query,
        body: &body,
        nonce: nonce(),
    };
    let mut conn = Conn::open(server.local_addr());
    conn.set_timeout(Duration::from_millis(timeout));
    // timeout_ms bounds the whole response: a dripping body must not outlast it.
    let raw = signed_request(&key, &req, "");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(conn.send_raw(&raw)));
    match receiver.recv_timeout(Duration::from_millis(timeout)) {
        Ok(result) => classify(result, &server.response_public_key()),
        Err(_) => json!({"variant": "Timeout"}),
    }
}

#[test]
fn every_entry_produces_its_expected_error() {
    let entries = entries();
    let results: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = entries.iter().map(|e| s.spawn(move || run(e))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (entry, got) in entries.iter().zip(results) {
        for (field, want) in &entry.expect {
            assert_eq!(&got[field], want, "{}: {field} (got {got})", entry.name);
        }
    }
}

#[test]
fn the_matrix_is_well_formed_and_covers_every_fault_kind() {
    let entries = entries();
    let names: BTreeSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names.len(), entries.len(), "names are unique");
    let variants = [
        "OAuth",
        "Server",
        "Unavailable",
        "Transport",
        "Timeout",
        "InvalidResponse",
        "ResponseSignature",
    ];
    let mut kinds_for_get = BTreeSet::new();
    for e in &entries {
        assert_eq!(e.client.get("max_retries"), Some(&json!(0)), "{}", e.name);
        assert!(
            variants.contains(&e.expect["variant"].as_str().unwrap()),
            "{}",
            e.name
        );
        assert!(
            e.name.starts_with(&format!("{}_", e.operation)),
            "{}",
            e.name
        );
        if e.operation == "get" {
            kinds_for_get.insert(e.fault["kind"].as_str().unwrap().to_owned());
        }
    }
    let all = [
        "server_error",
        "oauth_error",
        "unsigned",
        "malformed_json",
        "truncated_body",
        "missing_fields",
        "wrong_types",
        "bad_signature",
        "missing_signature",
        "delay",
        "drop_connection",
        "slow_body",
        "stall_mid_body",
    ];
    assert_eq!(kinds_for_get, all.iter().map(|k| k.to_string()).collect());
}
