//! CoboAuth verification, as Cobo applies it to every /v2 request: the signed content
//! is `METHOD|PATH|nonce|QUERY|BODY` exactly as received, the nonce is a recent
//! millisecond timestamp, and a key may use each nonce once.

use std::collections::{BTreeSet, HashMap};

use crate::crypto::verify_request;
use crate::error::OAuthError;
use crate::http::Request;
use crate::server::{lock, State};

/// Error codes of CoboAuth refusals. Cobo documents 2024 ("API key authentication
/// failed") for an unknown key and a bad signature; the nonce codes are the mock's own
/// (Cobo documents none), and the client library keeps the same table.
pub const KEY_OR_SIGNATURE_REFUSED: i64 = 2024;
pub const NONCE_REUSED: i64 = 2041;
pub const NONCE_OUT_OF_WINDOW: i64 = 2042;

/// Nonces seen per API key, inside the window only.
#[derive(Default)]
pub(crate) struct NonceBook {
    seen: HashMap<String, BTreeSet<u64>>,
}

impl NonceBook {
    /// Records `nonce` for `api_key`; false if the key already used it.
    fn record(&mut self, api_key: &str, nonce: u64, now_ms: u64, window_ms: u64) -> bool {
        let seen = self.seen.entry(api_key.to_owned()).or_default();
        // Nonces older than the window fail the clock check, so forgetting them is safe.
        *seen = seen.split_off(&now_ms.saturating_sub(window_ms));
        seen.insert(nonce)
    }
}

/// The canonical content a client signs.
pub(crate) fn content(req: &Request, nonce: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(req.path.len() + req.query.len() + req.body.len() + 40);
    for part in [
        req.method.as_bytes(),
        req.path.as_bytes(),
        nonce.as_bytes(),
        req.query.as_bytes(),
    ] {
        out.extend_from_slice(part);
        out.push(b'|');
    }
    out.extend_from_slice(&req.body);
    out
}

/// Checks the `Biz-Api-*` headers; returns the (lower-case) API key that signed.
pub(crate) fn authenticate(state: &State, req: &Request) -> Result<String, OAuthError> {
    let header = |name: &str| {
        req.header(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| OAuthError::invalid_client(format!("missing {name} header")))
    };
    let api_key = header("Biz-Api-Key")?.to_ascii_lowercase();
    let nonce = header("Biz-Api-Nonce")?;
    let signature = header("Biz-Api-Signature")?;

    if !lock(&state.registry).key_registered(&api_key) {
        return Err(OAuthError::coboauth(KEY_OR_SIGNATURE_REFUSED, "the API key is not registered"));
    }
    let nonce_ms = Some(nonce)
        .filter(|n| n.len() <= 19 && n.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| {
            OAuthError::coboauth(NONCE_OUT_OF_WINDOW, "Biz-Api-Nonce is not a millisecond timestamp")
        })?;
    let now = state.now_ms();
    if nonce_ms.abs_diff(now) > state.nonce_window_ms {
        state.count(|c| c.nonce_out_of_window += 1);
        return Err(OAuthError::coboauth(NONCE_OUT_OF_WINDOW, format!(
            "Biz-Api-Nonce is {} ms away from server time (allowed: {} ms)",
            nonce_ms.abs_diff(now),
            state.nonce_window_ms
        )));
    }
    if !verify_request(&api_key, &content(req, nonce), signature) {
        return Err(OAuthError::coboauth(KEY_OR_SIGNATURE_REFUSED, "signature verification failed"));
    }
    // Recorded only after the signature verifies, so forged requests cannot burn nonces.
    if !lock(&state.nonces).record(&api_key, nonce_ms, now, state.nonce_window_ms) {
        state.count(|c| c.nonce_reuses += 1);
        return Err(OAuthError::coboauth(NONCE_REUSED, "Biz-Api-Nonce has already been used"));
    }
    Ok(api_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_single_use_and_forgotten_after_the_window() {
        let mut book = NonceBook::default();
        assert!(book.record("k", 1_000, 1_000, 100));
        assert!(!book.record("k", 1_000, 1_050, 100));
        assert!(book.record("other", 1_000, 1_050, 100));
        assert!(book.record("k", 1_200, 1_200, 100));
        assert_eq!(book.seen["k"].len(), 1);
    }
}
