//! Every operation and every injected fault, over real loopback HTTP to the shared mock server.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cobo_oauth::{AppKey, ClientConfig, CoboOAuthError, OAuthClient, OrgToken, Secret};
use cobo_oauth_mock::{Fault, FaultTarget, MockConfig};
use serde_json::Value;

use common::Mocked;

const CLIENT_ID: &str = "test-portal-app";
const ORG_ID: &str = "e3986401-4aec-480a-973d-e775a4518413";

fn start() -> Mocked {
    Mocked::start(MockConfig::default(), CLIENT_ID, &[ORG_ID])
}

fn get(client: &OAuthClient) -> Result<OrgToken, CoboOAuthError> {
    client.get_org_token(CLIENT_ID.into(), ORG_ID.into())
}

#[test]
fn get_returns_a_token_with_its_absolute_expiry() {
    let h = start();
    let before = SystemTime::now();
    let token = get(&h.client(h.config())).unwrap();
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.scope, "");
    assert_eq!(token.expires_in, 43199);
    assert!(!token.access_token.expose().is_empty());
    let lifetime = token.expires_at.duration_since(before).unwrap();
    assert!(lifetime >= Duration::from_secs(43199) && lifetime < Duration::from_secs(43199 + 5));
    assert_eq!(h.server.counters().get, 1);
}

#[test]
fn refresh_rotates_and_the_spent_token_is_refused() {
    let h = start();
    let client = h.client(h.config());
    let first = get(&client).unwrap();
    let second = client.refresh_org_token(CLIENT_ID.into(), first.refresh_token.clone()).unwrap();
    assert_ne!(second.access_token, first.access_token);
    assert_ne!(second.refresh_token, first.refresh_token);
    let spent = client.refresh_org_token(CLIENT_ID.into(), first.refresh_token.clone()).unwrap_err();
    match spent {
        CoboOAuthError::OAuth { status: 400, error, .. } => assert_eq!(error, "invalid_grant"),
        other => panic!("{other:?}"),
    }
    // The rotated token still works: the failed reuse did not spend it.
    client.refresh_org_token(CLIENT_ID.into(), second.refresh_token).unwrap();
}

#[test]
fn token_lifetimes_follow_the_server() {
    let h = start();
    h.server.set_token_ttls(1, 0);
    let client = h.client(h.config());
    let token = get(&client).unwrap();
    assert_eq!(token.expires_in, 1);
    std::thread::sleep(Duration::from_millis(20));
    let err = client.refresh_org_token(CLIENT_ID.into(), token.refresh_token).unwrap_err();
    assert!(matches!(&err, CoboOAuthError::OAuth { status: 400, error, .. } if error == "invalid_grant"), "{err:?}");
}

#[test]
fn cobo_refusals_arrive_as_oauth_errors() {
    let h = start();
    let client = h.client(h.config());
    let err = client.get_org_token(CLIENT_ID.into(), "not-installed".into()).unwrap_err();
    assert!(matches!(&err, CoboOAuthError::OAuth { status: 403, error, .. } if error == "unauthorized_client"), "{err:?}");
    let err = client.get_org_token("unknown-app".into(), ORG_ID.into()).unwrap_err();
    assert!(matches!(&err, CoboOAuthError::OAuth { status: 401, error, .. } if error == "invalid_client"), "{err:?}");
    // A key Cobo does not know for this app.
    let stranger = OAuthClient::new(Arc::new(AppKey::generate().unwrap()), h.config()).unwrap();
    let err = get(&stranger).unwrap_err();
    assert!(matches!(&err, CoboOAuthError::OAuth { status: 401, error, .. } if error == "invalid_client"), "{err:?}");
}

#[test]
fn a_wrong_response_key_rejects_every_answer() {
    let h = start();
    let other = AppKey::generate().unwrap().api_key();
    let client = h.client(ClientConfig::for_base_url(h.server.base_url(), other));
    let err = get(&client).unwrap_err();
    assert!(matches!(err, CoboOAuthError::ResponseSignature { .. }), "{err:?}");
}

/// tests/faults.json: the fault matrix every language runs.
#[test]
fn fault_matrix() {
    let path = format!("{}/../tests/faults.json", env!("CARGO_MANIFEST_DIR"));
    let matrix: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(matrix.len() >= 15, "the matrix lost entries");
    let h = start();
    for entry in matrix {
        let name = entry["name"].as_str().unwrap();
        let fault: Fault = serde_json::from_value(entry["fault"].clone()).unwrap();
        let client = h.client(apply_overrides(h.config(), &entry["client"]));
        h.server.reset();
        let err = match entry["operation"].as_str().unwrap() {
            "get" => {
                h.server.inject_for(fault, 1, FaultTarget::Get);
                get(&client).unwrap_err()
            }
            "refresh" => {
                let token = get(&client).unwrap();
                h.server.inject_for(fault, 1, FaultTarget::Refresh);
                client.refresh_org_token(CLIENT_ID.into(), token.refresh_token).unwrap_err()
            }
            other => panic!("{name}: unknown operation {other}"),
        };
        assert_error(name, &err, &entry["expect"]);
    }
}

/// The same matrix through `AsyncOAuthClient`, on a current-thread tokio runtime.
#[test]
fn fault_matrix_through_the_async_client() {
    let path = format!("{}/../tests/faults.json", env!("CARGO_MANIFEST_DIR"));
    let matrix: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let h = start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for entry in matrix {
        let name = entry["name"].as_str().unwrap();
        let fault: Fault = serde_json::from_value(entry["fault"].clone()).unwrap();
        let client = cobo_oauth::AsyncOAuthClient::new(h.client(apply_overrides(h.config(), &entry["client"])));
        h.server.reset();
        let err = runtime.block_on(async {
            match entry["operation"].as_str().unwrap() {
                "get" => {
                    h.server.inject_for(fault, 1, FaultTarget::Get);
                    client.get_org_token(CLIENT_ID.into(), ORG_ID.into()).await.unwrap_err()
                }
                "refresh" => {
                    let token = client.get_org_token(CLIENT_ID.into(), ORG_ID.into()).await.unwrap();
                    h.server.inject_for(fault, 1, FaultTarget::Refresh);
                    client.refresh_org_token(CLIENT_ID.into(), token.refresh_token).await.unwrap_err()
                }
                other => panic!("{name}: unknown operation {other}"),
            }
        });
        assert_error(name, &err, &entry["expect"]);
    }
}

fn apply_overrides(mut config: ClientConfig, overrides: &Value) -> ClientConfig {
    for (field, value) in overrides.as_object().into_iter().flatten() {
        let n = value.as_u64().unwrap();
        match field.as_str() {
            "max_retries" => config.max_retries = u32::try_from(n).unwrap(),
            "timeout_ms" => config.timeout_ms = n,
            "connect_timeout_ms" => config.connect_timeout_ms = n,
            other => panic!("unknown client override {other}"),
        }
    }
    config
}

/// Checks the variant and every field the matrix names.
fn assert_error(name: &str, err: &CoboOAuthError, expect: &Value) {
    let (variant, fields) = match err {
        CoboOAuthError::OAuth { status, error, error_description } => (
            "OAuth",
            serde_json::json!({"status": status, "error": error, "error_description": error_description}),
        ),
        CoboOAuthError::Server { status, error_code, error_message, error_id } => (
            "Server",
            serde_json::json!({"status": status, "error_code": error_code, "error_message": error_message, "error_id": error_id}),
        ),
        CoboOAuthError::Unavailable { status } => ("Unavailable", serde_json::json!({"status": status})),
        CoboOAuthError::InvalidResponse { status, reason } => {
            ("InvalidResponse", serde_json::json!({"status": status, "reason": reason}))
        }
        CoboOAuthError::Transport { reason } => ("Transport", serde_json::json!({"reason": reason})),
        CoboOAuthError::Timeout { reason } => ("Timeout", serde_json::json!({"reason": reason})),
        CoboOAuthError::ResponseSignature { reason } => ("ResponseSignature", serde_json::json!({"reason": reason})),
        other => panic!("{name}: unexpected {other:?}"),
    };
    assert_eq!(expect["variant"].as_str(), Some(variant), "{name}: got {err:?}");
    for (field, value) in expect.as_object().unwrap().iter().filter(|(k, _)| *k != "variant") {
        assert_eq!(&fields[field], value, "{name}: field {field} of {err:?}");
    }
}

/// A key's nonce drawn on another host: Cobo refuses the request before doing anything
/// (a 401 with a CoboAuth `error_code`, in either body shape), so even the refresh goes
/// again at once with a new nonce, on a budget of its own. A 401 without such a code is
/// final.
#[test]
fn a_nonce_taken_by_another_host_is_signed_again() {
    let h = start();
    let client = h.client(h.config());
    let taken = || Fault::ServerError {
        status: 401,
        error_code: 2041,
        error_message: "Biz-Api-Nonce has already been used".into(),
        error_id: None,
    };
    h.server.inject_for(taken(), 1, FaultTarget::Get);
    let token = get(&client).unwrap();
    h.server.inject_for(taken(), 1, FaultTarget::Refresh);
    client.refresh_org_token(CLIENT_ID.into(), token.refresh_token).unwrap();
    assert_eq!((h.server.counters().get, h.server.counters().refresh), (2, 2));

    // max_retries is 0 here: the resends are a budget apart (3), then the refusal.
    h.server.reset();
    h.server.inject_for(taken(), 4, FaultTarget::Get);
    let refused = get(&client);
    assert!(matches!(&refused, Err(CoboOAuthError::OAuth { status: 401, error, .. }) if error == "error_code 2041"), "{refused:?}");
    assert_eq!(h.server.counters().get, 4);

    h.server.reset();
    let other = Fault::OAuthError { status: 401, error: "invalid_client".into(), error_description: "bad signature".into() };
    h.server.inject_for(other, 1, FaultTarget::Get);
    assert!(matches!(get(&client), Err(CoboOAuthError::OAuth { status: 401, .. })));
    assert_eq!(h.server.counters().get, 1);
}

#[test]
fn the_get_is_retried_after_server_errors_and_rate_limits() {
    let h = start();
    let client = h.client(h.config());
    h.server.inject_for(Fault::ServerError { status: 500, error_code: 1, error_message: "x".into(), error_id: None }, 1, FaultTarget::Get);
    get(&client).unwrap();
    assert_eq!(h.server.counters().get, 2);

    h.server.reset();
    h.server.inject_for(Fault::Unsigned { status: 429, retry_after_secs: None, retry_after_as_date: false }, 1, FaultTarget::Get);
    h.server.inject_for(Fault::DropConnection, 1, FaultTarget::Get);
    get(&client).unwrap();
    assert_eq!(h.server.counters().get, 3);

    h.server.reset();
    h.server.inject_for(Fault::TruncatedBody, 1, FaultTarget::Get);
    h.server.inject_for(Fault::Delay { delay_ms: 400 }, 1, FaultTarget::Get);
    let impatient = h.client(ClientConfig { timeout_ms: 200, ..h.config() });
    get(&impatient).unwrap();
    assert_eq!(h.server.counters().get, 3);

    // Bounded: max_retries 2 means three attempts, then the last error.
    h.server.reset();
    h.server.inject_for(Fault::Unsigned { status: 503, retry_after_secs: None, retry_after_as_date: false }, 5, FaultTarget::Get);
    assert_eq!(get(&client).unwrap_err(), CoboOAuthError::Unavailable { status: 503 });
    assert_eq!(h.server.counters().get, 3);

    // 414 and 4XX are answers, not accidents: never retried.
    h.server.reset();
    h.server.inject_for(Fault::Unsigned { status: 414, retry_after_secs: None, retry_after_as_date: false }, 5, FaultTarget::Get);
    assert_eq!(get(&client).unwrap_err(), CoboOAuthError::Unavailable { status: 414 });
    assert_eq!(h.server.counters().get, 1);
}

#[test]
fn the_refresh_is_never_replayed_once_sent() {
    let h = start();
    let client = h.client(h.config());
    for fault in [
        Fault::DropConnection,
        Fault::Unsigned { status: 503, retry_after_secs: None, retry_after_as_date: false },
        Fault::ServerError { status: 500, error_code: 1, error_message: "x".into(), error_id: None },
    ] {
        let token = get(&client).unwrap();
        h.server.reset();
        h.server.inject_for(fault, 1, FaultTarget::Refresh);
        client.refresh_org_token(CLIENT_ID.into(), token.refresh_token).unwrap_err();
        assert_eq!(h.server.counters().refresh, 1);
    }
}

#[test]
fn a_refused_connection_is_a_transport_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = ClientConfig {
        retry_base_delay_ms: 1,
        retry_max_delay_ms: 2,
        ..ClientConfig::for_base_url(format!("http://127.0.0.1:{port}/v2"), AppKey::generate().unwrap().api_key())
    };
    let client = OAuthClient::new(Arc::new(AppKey::generate().unwrap()), config).unwrap();
    for result in [
        client.get_org_token(CLIENT_ID.into(), ORG_ID.into()),
        client.refresh_org_token(CLIENT_ID.into(), Secret::new("r")),
    ] {
        assert!(matches!(result, Err(CoboOAuthError::Transport { .. })), "{result:?}");
    }
}

#[test]
fn bad_arguments_fail_before_any_io() {
    let h = start();
    let client = h.client(h.config());
    for (client_id, org_id) in [("", ORG_ID), (CLIENT_ID, ""), ("  ", ORG_ID)] {
        let err = client.get_org_token(client_id.into(), org_id.into()).unwrap_err();
        assert!(matches!(err, CoboOAuthError::InvalidArgument { .. }), "{err:?}");
    }
    for (client_id, refresh) in [("", "r"), (CLIENT_ID, "")] {
        let err = client.refresh_org_token(client_id.into(), Secret::new(refresh)).unwrap_err();
        assert!(matches!(err, CoboOAuthError::InvalidArgument { .. }), "{err:?}");
    }
    assert_eq!(h.server.counters().total, 0);
    // Odd but legal ids are encoded, signed as sent, and reach the server intact.
    let err = client.get_org_token(CLIENT_ID.into(), "a b&c=d/é|".into()).unwrap_err();
    assert!(matches!(&err, CoboOAuthError::OAuth { status: 403, .. }), "{err:?}");
}

#[test]
fn bad_configurations_are_refused() {
    let key = Arc::new(AppKey::generate().unwrap());
    let good_key = key.api_key();
    let cases = [
        ClientConfig::for_base_url("http://api.example.com/v2", good_key.as_str()),
        ClientConfig::for_base_url("ftp://127.0.0.1/v2", good_key.as_str()),
        ClientConfig::for_base_url("not a url", good_key.as_str()),
        ClientConfig::for_base_url("https://user:pw@api.example.com/v2", good_key.as_str()),
        ClientConfig::for_base_url("https://api.example.com/v2", "zz"),
        ClientConfig { base_url: Some("https://api.example.com/v2".into()), ..ClientConfig::default() },
        ClientConfig { timeout_ms: 0, ..ClientConfig::default() },
        ClientConfig { connect_timeout_ms: 0, ..ClientConfig::default() },
        ClientConfig { max_retries: 11, ..ClientConfig::default() },
        ClientConfig { retry_base_delay_ms: 10, retry_max_delay_ms: 1, ..ClientConfig::default() },
        ClientConfig { retry_max_delay_ms: 60_001, ..ClientConfig::default() },
        ClientConfig { user_agent: Some("a\r\nX-Injected: 1".into()), ..ClientConfig::default() },
    ];
    for config in cases {
        let err = OAuthClient::new(key.clone(), config.clone()).unwrap_err();
        assert!(matches!(err, CoboOAuthError::InvalidArgument { .. }), "{config:?}: {err:?}");
    }
    for url in ["http://localhost:1/v2", "http://[::1]:1/v2", "http://127.0.0.2:1/v2/", "https://api.example.com/v2"] {
        let client = OAuthClient::new(key.clone(), ClientConfig::for_base_url(url, good_key.as_str())).unwrap();
        assert_eq!(client.base_url(), url.trim_end_matches('/'));
    }
    let prod = OAuthClient::new(key, ClientConfig::default()).unwrap();
    assert_eq!(prod.base_url(), "https://api.cobo.com/v2");
}

#[test]
fn sixteen_threads_share_one_client() {
    let h = start();
    let client = Arc::new(h.client(h.config()));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                let token = client.get_org_token(CLIENT_ID.into(), ORG_ID.into()).unwrap();
                client.refresh_org_token(CLIENT_ID.into(), token.refresh_token).unwrap()
            })
        })
        .collect();
    let mut tokens: Vec<String> = threads.into_iter().map(|t| t.join().unwrap().access_token.expose().to_owned()).collect();
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 16);
    let counters = h.server.counters();
    // Every request was accepted: no nonce collided, no signature failed.
    assert_eq!((counters.get, counters.refresh, counters.rejected), (16, 16, 0));
}

#[test]
fn secrets_stay_out_of_debug_and_errors() {
    let h = start();
    let client = h.client(h.config());
    let token = get(&client).unwrap();
    let seed = h.key.private_key_hex();
    let spent = client.refresh_org_token(CLIENT_ID.into(), token.refresh_token.clone()).unwrap();
    let reuse = client.refresh_org_token(CLIENT_ID.into(), token.refresh_token.clone()).unwrap_err();
    let printed = format!("{token:?} {spent:?} {client:?} {:?} {reuse:?} {reuse}", h.key);
    for secret in [&token.access_token, &token.refresh_token, &spent.access_token, &spent.refresh_token, &seed] {
        assert!(!printed.contains(secret.expose()), "leaked in {printed}");
    }
    assert!(printed.contains("Secret(…)"));
}

/// The Java SDK's spelling, `BIZ_TIMESTAMP` / `BIZ_RESP_SIGNATURE`, from a one-shot server.
#[test]
fn underscore_signature_headers_are_accepted() {
    use ed25519_dalek::{Signer, SigningKey};
    use sha2::{Digest, Sha256};
    let cobo = SigningKey::from_bytes(&[7u8; 32]);
    let cobo_public: String = cobo.verifying_key().as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        let body = r#"{"access_token":"a1","token_type":"Bearer","scope":"","expires_in":60,"refresh_token":"r1"}"#;
        let timestamp = "1718000000000";
        let digest = Sha256::digest(Sha256::digest(format!("{body}|{timestamp}")));
        let signature: String = cobo.sign(&digest).to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nBIZ_TIMESTAMP: {timestamp}\r\nBIZ_RESP_SIGNATURE: {signature}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    });
    let config = ClientConfig::for_base_url(format!("http://127.0.0.1:{port}/v2"), cobo_public);
    let client = OAuthClient::new(Arc::new(AppKey::generate().unwrap()), config).unwrap();
    let token = client.get_org_token(CLIENT_ID.into(), ORG_ID.into()).unwrap();
    assert_eq!((token.access_token.expose(), token.expires_in), ("a1", 60));
    server.join().unwrap();
}

#[test]
fn oversized_arguments_are_refused_before_any_io() {
    let h = start();
    let client = h.client(h.config());
    let huge = "x".repeat(10 << 20);
    let err = client.get_org_token(huge.clone(), ORG_ID.into()).unwrap_err();
    assert!(matches!(err, CoboOAuthError::InvalidArgument { .. }), "{err:?}");
    let err = client.refresh_org_token(CLIENT_ID.into(), Secret::new(huge)).unwrap_err();
    assert!(matches!(&err, CoboOAuthError::InvalidArgument { reason } if !reason.contains("xxxx")), "{err:?}");
    assert_eq!(h.server.counters().total, 0);
}

#[test]
fn a_proxys_retry_after_is_honoured_within_the_retry_budget() {
    let h = start();
    let client = h.client(ClientConfig { retry_max_delay_ms: 2_000, ..h.config() });
    h.server.inject_for(Fault::Unsigned { status: 429, retry_after_secs: Some(1), retry_after_as_date: false }, 1, FaultTarget::Get);
    let started = std::time::Instant::now();
    get(&client).unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(h.server.counters().get, 2);

    // Asked to wait longer than the budget: the caller hears at once, Cobo is not polled.
    h.server.reset();
    h.server.inject_for(Fault::Unsigned { status: 503, retry_after_secs: Some(30), retry_after_as_date: false }, 1, FaultTarget::Get);
    assert_eq!(get(&client).unwrap_err(), CoboOAuthError::Unavailable { status: 503 });
    assert_eq!(h.server.counters().get, 1);
}
