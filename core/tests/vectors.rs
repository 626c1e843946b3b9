//! The shared vectors (tests/vectors, computed by PyNaCl + hashlib) against the core.

use cobo_oauth::{
    canonical_content, content_digest, verify_webhook_with_key, AppKey, CoboOAuthError, Environment,
    ResponseVerifier, Secret,
};
use serde_json::Value;

fn cases(file: &str) -> Vec<Value> {
    let path = format!("{}/../tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let json: Value = serde_json::from_str(&text).unwrap();
    json["cases"].as_array().unwrap().clone()
}

fn s(case: &Value, field: &str) -> String {
    case[field].as_str().unwrap_or_else(|| panic!("{field} missing")).to_owned()
}

#[test]
fn signing_vectors() {
    let all = cases("signing.json");
    assert!(all.len() >= 8);
    for case in all {
        let name = s(&case, "name");
        let key = AppKey::new(Secret::new(s(&case, "private_key_hex"))).unwrap();
        assert_eq!(key.api_key(), s(&case, "api_key"), "{name}");
        let signed = key.sign_request_with_nonce(
            s(&case, "method"),
            s(&case, "path"),
            s(&case, "query"),
            s(&case, "body"),
            s(&case, "nonce"),
        );
        assert_eq!(signed.api_key, s(&case, "api_key"), "{name}");
        assert_eq!(signed.nonce, s(&case, "nonce"), "{name}");
        assert_eq!(signed.content.expose(), s(&case, "content"), "{name}");
        assert_eq!(signed.digest, s(&case, "digest"), "{name}");
        assert_eq!(signed.signature, s(&case, "signature"), "{name}");
        let content = canonical_content(
            s(&case, "method"),
            s(&case, "path"),
            s(&case, "nonce"),
            s(&case, "query"),
            s(&case, "body"),
        );
        assert_eq!(content, s(&case, "content"), "{name}");
        assert_eq!(content_digest(content), s(&case, "digest"), "{name}");
    }
}

#[test]
fn key_vectors() {
    for case in cases("keys.json") {
        let name = s(&case, "name");
        let result = AppKey::new(Secret::new(s(&case, "input")));
        if case["valid"].as_bool().unwrap() {
            let key = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(key.api_key(), s(&case, "api_key"), "{name}");
        } else {
            let err = result.expect_err(&name);
            assert!(matches!(err, CoboOAuthError::InvalidKey { .. }), "{name}: {err:?}");
            // The message describes the problem, never the input.
            let input = s(&case, "input");
            if input.trim().len() >= 8 {
                assert!(!err.to_string().contains(input.trim()), "{name}: {err}");
            }
        }
    }
}

#[test]
fn verify_vectors() {
    for case in cases("verify.json") {
        let name = s(&case, "name");
        let verifier = ResponseVerifier::with_key(s(&case, "public_key_hex")).unwrap();
        let body = s(&case, "body").into_bytes();
        let result = verifier.verify(body.clone(), s(&case, "timestamp"), s(&case, "signature"));
        let webhook = verify_webhook_with_key(body, s(&case, "timestamp"), s(&case, "signature"), s(&case, "public_key_hex"));
        assert_eq!(result, webhook, "{name}");
        if case["valid"].as_bool().unwrap() {
            assert_eq!(result, Ok(()), "{name}");
        } else {
            assert!(matches!(result, Err(CoboOAuthError::ResponseSignature { .. })), "{name}: {result:?}");
        }
    }
}

#[test]
fn environment_keys_are_the_documented_ones() {
    // Constructing a verifier parses the constant; a bad constant would panic here, not in an app.
    // The match has no wildcard: a new variant fails to compile until it is listed here too.
    let every = [Environment::Dev, Environment::Sandbox, Environment::Prod];
    let position = |env: Environment| match env {
        Environment::Dev => 0,
        Environment::Sandbox => 1,
        Environment::Prod => 2,
    };
    assert_eq!(every.map(position), [0, 1, 2], "every variant, once");
    for env in every {
        let verifier = ResponseVerifier::new(env);
        let err = verifier.verify(b"{}".to_vec(), "1".into(), "00".repeat(64)).unwrap_err();
        assert!(matches!(err, CoboOAuthError::ResponseSignature { .. }));
    }
    assert_eq!(
        Environment::Prod.response_public_key(),
        "8d4a482641adb2a34b726f05827dba9a9653e5857469b8749052bf4458a86729"
    );
}

#[test]
fn non_ascii_keys_are_refused_without_echoing_them() {
    // 128 bytes whose 64th byte falls inside a multi-byte character.
    let sneaky = format!("{}é{}", "a".repeat(63), "b".repeat(63));
    assert_eq!(sneaky.len(), 128);
    for input in [sneaky.as_str(), "é".repeat(32).as_str(), "ａ".repeat(64).as_str()] {
        let err = AppKey::new(Secret::new(input)).unwrap_err();
        assert!(matches!(&err, CoboOAuthError::InvalidKey { reason } if !reason.contains("aaaa")), "{err:?}");
    }
}

#[test]
fn generated_keys_round_trip_and_differ() {
    let a = AppKey::generate().unwrap();
    let b = AppKey::generate().unwrap();
    assert_ne!(a.api_key(), b.api_key());
    let again = AppKey::new(a.private_key_hex()).unwrap();
    assert_eq!(again.api_key(), a.api_key());
    let both_halves = format!("{}{}", a.private_key_hex().expose(), a.api_key());
    assert_eq!(AppKey::new(Secret::new(both_halves)).unwrap().api_key(), a.api_key());
}

#[test]
fn secrets_stay_out_of_debug() {
    let key = AppKey::generate().unwrap();
    let seed = key.private_key_hex();
    let debug = format!("{key:?} {seed:?} {seed}");
    assert!(!debug.contains(seed.expose()), "{debug}");
    assert!(debug.contains(&key.api_key()));
    let body = r#"{"client_id":"c","grant_type":"refresh_token","refresh_token":"rK49jI0zt49gsttz"}"#;
    let signed = key.sign_request("POST".into(), "/v2/oauth/token".into(), String::new(), body.into());
    assert!(!format!("{signed:?}").contains("rK49jI0zt49gsttz"), "{signed:?}");
    assert!(signed.content.expose().ends_with(body));
}
