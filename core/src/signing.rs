//! CoboAuth request signing: canonical content, double SHA-256, Ed25519 (the nonce
//! comes from nonce_clock.rs).

use sha2::{Digest, Sha256};

use crate::keys::AppKey;
use crate::{hex, Secret};

/// The CoboAuth headers for one request, and what was signed (`content` may hold a
/// refresh token, so it is a `Secret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub api_key: String,
    pub nonce: String,
    pub signature: String,
    pub content: Secret,
    pub digest: String,
}

/// `METHOD|PATH|nonce|QUERY|BODY`, the string CoboAuth signs.
pub fn canonical_content(method: String, path: String, nonce: String, query: String, body: String) -> String {
    [method.to_ascii_uppercase().as_str(), &path, &nonce, &query, &body].join("|")
}

/// SHA-256(SHA-256(content)) as hex.
pub fn content_digest(content: String) -> String {
    hex::encode(&double_sha256(content.as_bytes()))
}

pub(crate) fn double_sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(bytes)).into()
}

pub(crate) fn sign(key: &AppKey, method: &str, path: &str, query: &str, body: &str, nonce: String) -> SignedRequest {
    // HTTP sends methods in upper case; a lowercase one signed as is never verifies.
    let method = method.to_ascii_uppercase();
    let content = [method.as_str(), path, &nonce, query, body].join("|");
    let digest = double_sha256(content.as_bytes());
    SignedRequest {
        api_key: key.api_key_hex().to_owned(),
        signature: hex::encode(&key.sign_digest(&digest)),
        digest: hex::encode(&digest),
        nonce,
        content: Secret::new(content),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_signed_in_upper_case() {
        let key = AppKey::parse(&"07".repeat(32)).unwrap();
        let lower = sign(&key, "get", "/v2/x", "", "", "1".into());
        let upper = sign(&key, "GET", "/v2/x", "", "", "1".into());
        assert_eq!(lower.signature, upper.signature);
        assert!(lower.content.expose().starts_with("GET|"));
    }
}
