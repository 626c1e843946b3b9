//! `make bench`: what the core adds on top of the work it cannot avoid, as ratios
//! against references measured in the same run.
//! - signing: `sign_request` vs the bare double SHA-256 + Ed25519 it wraps;
//! - a token round trip: `get_org_token` (sign, send, verify, parse) against the mock
//!   vs an unsigned GET of the mock's /_mock/info over an equally pooled reqwest client.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cobo_oauth::{AppKey, ClientConfig, OAuthClient};
use cobo_oauth_mock::{App, MockConfig, MockServer};
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

/// Runs `f` repeatedly for about `budget` and returns the mean time per call.
fn measure(budget: Duration, mut f: impl FnMut()) -> Duration {
    for _ in 0..10 {
        f();
    }
    let (start, mut calls) = (Instant::now(), 0u32);
    while start.elapsed() < budget {
        f();
        calls += 1;
    }
    start.elapsed() / calls
}

fn report(name: &str, ours: Duration, reference: Duration, reference_name: &str) {
    let ratio = ours.as_secs_f64() / reference.as_secs_f64();
    println!("{name:<28} {:>10.2?} per call   {reference_name}: {:>10.2?}   ratio {ratio:.2}x", ours, reference);
}

fn main() {
    let budget = Duration::from_millis(1500);
    let key = AppKey::generate().expect("key");
    let query = "client_id=pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij&org_id=e3986401-4aec-480a-973d-e775a4518413&grant_type=org_implicit";

    let bare_key = SigningKey::from_bytes(&[7u8; 32]);
    let bare = measure(budget, || {
        let content = format!("GET|/v2/oauth/token|1718000000000|{query}|");
        let digest = Sha256::digest(Sha256::digest(content.as_bytes()));
        black_box(bare_key.sign(&digest));
    });
    // A key of its own: a million signatures push its nonces ahead of the clock.
    let signer = AppKey::generate().expect("key");
    let signing = measure(budget, || {
        black_box(signer.sign_request("GET".into(), "/v2/oauth/token".into(), query.into(), String::new()));
    });
    report("sign_request", signing, bare, "bare sha256²+ed25519");

    let server = MockServer::start(MockConfig::default()).expect("mock server");
    server.register_app(App { client_id: "bench".into(), api_key: key.api_key(), orgs: vec!["org".into()] });
    let config = ClientConfig::for_base_url(server.base_url(), server.response_public_key());
    let client = OAuthClient::new(Arc::new(key), config).expect("client");
    let plain = reqwest::blocking::Client::new();
    let info = format!("{}/info", server.control_url());
    let unsigned = measure(budget, || {
        black_box(plain.get(&info).send().and_then(|r| r.bytes()).expect("info"));
    });
    let round_trip = measure(budget, || {
        black_box(client.get_org_token("bench".into(), "org".into()).expect("token"));
    });
    report("get_org_token round trip", round_trip, unsigned, "unsigned GET");
}
