//! Webhook and callback deliveries as a web framework hands them over: the raw body and
//! the request's headers, in whatever case the server gives them (ASGI lower-cases them,
//! Cobo's Java SDK spells them `BIZ_TIMESTAMP`). Cobo documents no replay window, so the
//! window is the caller's, named and defaulted.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::environment::Environment;
use crate::auth::verify::ResponseVerifier;
use crate::error::{CoboOAuthError, Error};

/// How far `Biz-Timestamp` may be from this host's clock, either way, by default. Cobo
/// retries a webhook up to 10 times and a callback up to 30; each delivery is signed anew.
pub const DELIVERY_MAX_AGE_SECS: u64 = 300;

/// Verifies a webhook or callback delivery with the environment's key: the signature over
/// the raw body and `Biz-Timestamp`, and that timestamp within `max_age_secs` of this
/// host's clock (older is a replay, newer a forgery or a broken clock). Headers are
/// looked up in any case, with `-` or `_`. Does no I/O.
pub fn verify_delivery(
    body: Vec<u8>,
    headers: HashMap<String, String>,
    environment: Environment,
    max_age_secs: u64,
) -> Result<(), CoboOAuthError> {
    Ok(check(&ResponseVerifier::new(environment), &body, &headers, max_age_secs, now_ms())?)
}

impl ResponseVerifier {
    /// As [`verify_delivery`], with this verifier's key (Cobo's, a proxy's, the mock's).
    pub fn verify_delivery(
        &self,
        body: Vec<u8>,
        headers: HashMap<String, String>,
        max_age_secs: u64,
    ) -> Result<(), CoboOAuthError> {
        Ok(check(self, &body, &headers, max_age_secs, now_ms())?)
    }
}

/// The body Cobo expects in answer to a callback (HTTP 200, plain text): `ok` lets the
/// operation proceed, `deny` refuses it. Anything else counts as a failed delivery.
pub fn callback_answer(approve: bool) -> String {
    if approve { "ok" } else { "deny" }.to_owned()
}

fn check(
    verifier: &ResponseVerifier,
    body: &[u8],
    headers: &HashMap<String, String>,
    max_age_secs: u64,
    now_ms: u64,
) -> Result<(), Error> {
    let timestamp = header(headers, "biz-timestamp")?;
    let signature = header(headers, "biz-resp-signature")?;
    verifier.check(body, timestamp, signature)?;
    let sent_ms: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Error::Signature("Biz-Timestamp is not milliseconds since the epoch".into()))?;
    let window_ms = max_age_secs.saturating_mul(1000);
    if now_ms.saturating_sub(sent_ms) > window_ms {
        return Err(Error::Signature(format!("Biz-Timestamp is older than {max_age_secs} s: a replayed delivery")));
    }
    if sent_ms.saturating_sub(now_ms) > window_ms {
        return Err(Error::Signature(format!("Biz-Timestamp is more than {max_age_secs} s ahead of this host's clock")));
    }
    Ok(())
}

/// The value of header `name` (lower case, with dashes), whatever its case or separator.
fn header<'a>(headers: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Error> {
    headers
        .iter()
        .find(|(key, _)| key.trim().replace('_', "-").eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
        .ok_or_else(|| Error::Signature(format!("missing header {name}")))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::AppKey;

    /// Cobo's signature scheme is the one AppKey signs CoboAuth content with, so a test
    /// key stands in for Cobo's.
    fn delivery(key: &AppKey, body: &str, timestamp: u64) -> HashMap<String, String> {
        let digest = crate::auth::signing::double_sha256(format!("{body}|{timestamp}").as_bytes());
        let signature = crate::util::hex::encode(&key.sign_digest(&digest));
        HashMap::from([("biz-timestamp".into(), timestamp.to_string()), ("BIZ_RESP_SIGNATURE".into(), signature)])
    }

    fn verifier(key: &AppKey) -> ResponseVerifier {
        ResponseVerifier::parse(&key.api_key()).expect("a valid public key")
    }

    #[test]
    fn a_fresh_delivery_verifies_with_headers_in_any_case() {
        let key = AppKey::generate().expect("key");
        let now = 1_800_000_000_000;
        let headers = delivery(&key, r#"{"id":1}"#, now - 5_000);
        assert!(check(&verifier(&key), br#"{"id":1}"#, &headers, 300, now).is_ok());
        let mut upper = HashMap::new();
        for (name, value) in headers {
            upper.insert(name.to_uppercase().replace('_', "-"), value);
        }
        assert!(check(&verifier(&key), br#"{"id":1}"#, &upper, 300, now).is_ok());
    }

    #[test]
    fn old_future_tampered_and_unsigned_deliveries_are_refused() {
        let key = AppKey::generate().expect("key");
        let now = 1_800_000_000_000;
        let body = br#"{"id":1}"#;
        let old = delivery(&key, r#"{"id":1}"#, now - 301_000);
        assert!(check(&verifier(&key), body, &old, 300, now).unwrap_err().to_string().contains("older than 300 s"));
        let ahead = delivery(&key, r#"{"id":1}"#, now + 301_000);
        assert!(check(&verifier(&key), body, &ahead, 300, now).unwrap_err().to_string().contains("ahead"));
        let fresh = delivery(&key, r#"{"id":1}"#, now);
        assert!(check(&verifier(&key), br#"{"id":2}"#, &fresh, 300, now).is_err());
        let unsigned = HashMap::from([("Biz-Timestamp".to_owned(), now.to_string())]);
        assert!(check(&verifier(&key), body, &unsigned, 300, now).unwrap_err().to_string().contains("biz-resp-signature"));
    }

    #[test]
    fn callbacks_are_answered_ok_or_deny() {
        assert_eq!((callback_answer(true).as_str(), callback_answer(false).as_str()), ("ok", "deny"));
    }
}
