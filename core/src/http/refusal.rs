//! Which of Cobo's refusals a client recovers from, told by status and `error_code`
//! (never by the message): the one table the core client and every language's HTTP
//! hook share.

use serde::Deserialize;

/// A refusal a request can recover from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// A 401 refusing the request's CoboAuth headers (its signature, its nonce, or the
    /// nonce's timestamp), before Cobo acted on it: send it again, whatever its method,
    /// with a fresh nonce and signature, at most `COBOAUTH_RESENDS` times.
    CoboAuth,
    /// A 500 naming the Bearer token (expired or revoked): `TokenManager::invalidate`
    /// the token, then send the request once more with the manager's token.
    AccessToken,
}

/// Resends a refused CoboAuth request may take: its own small budget, apart from
/// `max_retries`, enough for the rare collision between hosts.
pub const COBOAUTH_RESENDS: u32 = 3;

/// 2024: "API key authentication failed", which Cobo documents for bad signatures (and
/// for keys it does not know, which a resend costs one request to learn). 2041 and 2042,
/// a nonce used before and a nonce outside the window, are the mock's: Cobo documents no
/// codes for them.
const COBOAUTH_CODES: [i64; 3] = [2024, NONCE_REUSED, 2042];
const NONCE_REUSED: i64 = 2041;
/// A refused access token (Cobo answers an expired one with a 500). Cobo's own code
/// 1000 is every internal error, so it is never taken for the token.
const ACCESS_TOKEN_CODES: [i64; 1] = [2040];

#[derive(Deserialize)]
struct Coded {
    error_code: i64,
}

/// What `status` and the JSON `body` of a verified answer ask of the caller, or `None`
/// when the answer is final. Only a 401 or a 500 can be a refusal; other statuses are
/// not parsed. A nonce refused as used also moves this host's nonce clocks past the
/// other host's (nonce_clock.rs).
pub fn classify_refusal(status: u16, body: Vec<u8>) -> Option<Refusal> {
    classify(status, &body)
}

pub(crate) fn classify(status: u16, body: &[u8]) -> Option<Refusal> {
    let wanted = match status {
        401 => (&COBOAUTH_CODES[..], Refusal::CoboAuth),
        500 => (&ACCESS_TOKEN_CODES[..], Refusal::AccessToken),
        _ => return None,
    };
    let coded: Coded = serde_json::from_slice(body).ok()?;
    if status == 401 && coded.error_code == NONCE_REUSED {
        crate::auth::nonce_clock::after_collision();
    }
    wanted.0.contains(&coded.error_code).then_some(wanted.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn told_by_status_and_code() {
        let nonce = br#"{"error":"invalid_client","error_description":"x","error_code":2041}"#;
        assert_eq!(classify(401, nonce), Some(Refusal::CoboAuth));
        assert_eq!(classify(401, br#"{"error_code":2024,"error_message":"m"}"#), Some(Refusal::CoboAuth));
        assert_eq!(classify(500, br#"{"error_code":2040,"error_message":"m","error_id":"i"}"#), Some(Refusal::AccessToken));
        // The same codes under another status, a generic 500, text without a code.
        assert_eq!(classify(400, nonce), None);
        assert_eq!(classify(500, br#"{"error_code":1000,"error_message":"token expired"}"#), None);
        assert_eq!(classify(401, br#"{"error":"invalid_client","error_description":"nonce used"}"#), None);
        assert_eq!(classify(500, b"<html>"), None);
    }
}
