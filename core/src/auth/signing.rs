//! What CoboAuth signs: the canonical content and its double SHA-256 (the key signs it in
//! keys.rs, with a nonce from nonce_clock.rs).

use sha2::{Digest, Sha256};

use crate::util::hex;
use crate::Secret;

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
