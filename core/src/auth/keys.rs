//! The Portal App's Ed25519 key: parsing, generation, and the API key it implies.

use std::fmt;
use std::sync::Arc;

use ed25519_dalek::{Signer, SigningKey, SECRET_KEY_LENGTH};
use zeroize::Zeroize;

use crate::error::{CoboOAuthError, Error};
use crate::auth::nonce_clock::NonceClock;
use crate::auth::signing::{canonical_content, double_sha256, SignedRequest};
use crate::util::hex;
use crate::Secret;

/// An app key. `SigningKey` zeroizes its seed on drop; `Debug` shows only the API key.
pub struct AppKey {
    signing: SigningKey,
    api_key: String,
    nonces: Arc<NonceClock>,
}

impl AppKey {
    /// From a 64-hex-char seed, or the 128-hex-char seed‖public form (the public half
    /// must match). Surrounding whitespace is ignored, so a key file's newline is fine.
    pub fn new(private_key_hex: Secret) -> Result<Self, CoboOAuthError> {
        Ok(Self::parse(private_key_hex.expose())?)
    }

    /// A fresh key pair, seeded from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, CoboOAuthError> {
        let mut seed = [0u8; SECRET_KEY_LENGTH];
        getrandom::getrandom(&mut seed).map_err(|e| Error::from(std::io::Error::other(e.to_string())))?;
        let key = Self::from_seed(&seed);
        seed.zeroize();
        Ok(key)
    }

    pub(crate) fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let mut seed = [0u8; SECRET_KEY_LENGTH];
        // Hex is ASCII; checking first makes the byte slicing below safe.
        let parsed = match (text.is_ascii(), text.len()) {
            (false, _) => Err("not a hex string (non-ASCII characters)".to_owned()),
            (true, 64) => hex::decode_into(text, &mut seed).map(|()| Self::from_seed(&seed)),
            (true, 128) => hex::decode_into(&text[..64], &mut seed).and_then(|()| {
                let key = Self::from_seed(&seed);
                if text[64..].eq_ignore_ascii_case(&key.api_key) {
                    Ok(key)
                } else {
                    Err("the public half does not match the seed".to_owned())
                }
            }),
            (true, n) => Err(format!(
                "expected 64 hex characters (seed) or 128 (seed and public key), got {n}"
            )),
        };
        seed.zeroize();
        parsed.map_err(Error::Key)
    }

    fn from_seed(seed: &[u8; SECRET_KEY_LENGTH]) -> Self {
        let signing = SigningKey::from_bytes(seed);
        let api_key = hex::encode(signing.verifying_key().as_bytes());
        let nonces = NonceClock::for_key(&api_key);
        AppKey { signing, api_key, nonces }
    }

    /// The public key as hex: the API key registered with Cobo.
    pub fn api_key(&self) -> String {
        self.api_key.clone()
    }

    /// The 64-hex-char seed, for storing a generated key.
    pub fn private_key_hex(&self) -> Secret {
        Secret::new(hex::encode(self.signing.as_bytes()))
    }

    /// Signs one request with a fresh nonce: the current time on Cobo's clock in
    /// milliseconds, never handed out twice for this key on this host (nonce_clock.rs).
    /// Does no I/O.
    pub fn sign_request(&self, method: String, path: String, query: String, body: String) -> SignedRequest {
        self.sign_request_with_nonce(method, path, query, body, self.next_nonce().to_string())
    }

    /// Signs one request with the given nonce (for vectors and debugging).
    pub fn sign_request_with_nonce(
        &self,
        method: String,
        path: String,
        query: String,
        body: String,
        nonce: String,
    ) -> SignedRequest {
        // HTTP sends methods in upper case; a lowercase one signed as is never verifies.
        let content = canonical_content(method, path, nonce.clone(), query, body);
        let digest = double_sha256(content.as_bytes());
        SignedRequest {
            api_key: self.api_key.clone(),
            signature: hex::encode(&self.sign_digest(&digest)),
            digest: hex::encode(&digest),
            nonce,
            content: Secret::new(content),
        }
    }

    pub(crate) fn next_nonce(&self) -> u64 {
        self.nonces.next()
    }

    /// The seed, from which the token stores' sealing key is derived (sealing.rs).
    pub(crate) fn seed(&self) -> &[u8; SECRET_KEY_LENGTH] {
        self.signing.as_bytes()
    }

    #[cfg_attr(not(feature = "kotlin-direct-signing"), allow(dead_code))]
    pub(crate) fn api_key_hex(&self) -> &str {
        &self.api_key
    }

    /// The Ed25519 signature of a content digest (CoboAuth signs the digest, not the content).
    pub(crate) fn sign_digest(&self, digest: &[u8; 32]) -> [u8; 64] {
        self.signing.sign(digest).to_bytes()
    }
}

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppKey").field("api_key", &self.api_key).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_signed_in_upper_case() {
        let key = AppKey::parse(&"07".repeat(32)).unwrap();
        let lower = key.sign_request_with_nonce("get".into(), "/v2/x".into(), String::new(), String::new(), "1".into());
        let upper = key.sign_request_with_nonce("GET".into(), "/v2/x".into(), String::new(), String::new(), "1".into());
        assert_eq!(lower.signature, upper.signature);
        assert!(lower.content.expose().starts_with("GET|"));
    }
}
