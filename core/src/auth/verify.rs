//! Cobo's response and webhook signatures: Ed25519 over SHA-256(SHA-256("<body>|<timestamp>")).

use ed25519_dalek::{Signature, VerifyingKey, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH};

use crate::error::{CoboOAuthError, Error};
use crate::auth::signing::double_sha256;
use crate::auth::environment::Environment;
use crate::util::hex;

/// Checks signatures made with one Cobo public key.
#[derive(Debug, Clone)]
pub struct ResponseVerifier {
    key: VerifyingKey,
}

impl ResponseVerifier {
    /// The key Cobo signs this environment's responses with.
    pub fn new(environment: Environment) -> Self {
        // Unreachable: each variant's key is a 64-hex constant in environment.rs, and
        // tests/vectors.rs `environment_keys_are_the_documented_ones` builds a verifier for
        // every variant (its exhaustive match stops compiling when one is added), so a bad
        // constant fails that test, never an app. No input reaches this parse.
        match Self::parse(environment.response_public_key()) {
            Ok(verifier) => verifier,
            Err(_) => unreachable!("environment keys are valid constants"),
        }
    }

    /// A custom key (64 hex chars), e.g. for a proxy or the mock server.
    pub fn with_key(public_key_hex: String) -> Result<Self, CoboOAuthError> {
        Ok(Self::parse(&public_key_hex)?)
    }

    pub(crate) fn parse(public_key_hex: &str) -> Result<Self, Error> {
        let mut bytes = [0u8; PUBLIC_KEY_LENGTH];
        hex::decode_into(public_key_hex.trim(), &mut bytes)
            .map_err(|reason| Error::Argument(format!("response public key: {reason}")))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| Error::Argument("response public key is not an Ed25519 point".into()))?;
        Ok(ResponseVerifier { key })
    }

    /// Ok when `signature` (hex) is Cobo's over "<body>|<timestamp>". Does no I/O.
    pub fn verify(&self, body: Vec<u8>, timestamp: String, signature: String) -> Result<(), CoboOAuthError> {
        Ok(self.check_response(&body, &timestamp, &signature)?)
    }

    pub(crate) fn check(&self, body: &[u8], timestamp: &str, signature: &str) -> Result<(), Error> {
        let mut sig = [0u8; SIGNATURE_LENGTH];
        hex::decode_into(signature.trim(), &mut sig)
            .map_err(|reason| Error::Signature(format!("malformed signature: {reason}")))?;
        let mut message = Vec::with_capacity(body.len() + 1 + timestamp.len());
        message.extend_from_slice(body);
        message.push(b'|');
        message.extend_from_slice(timestamp.as_bytes());
        self.key
            .verify_strict(&double_sha256(&message), &Signature::from_bytes(&sig))
            .map_err(|_| Error::Signature("signature does not match the body and timestamp".into()))
    }

    /// `check` for a response to this host's request: its timestamp is Cobo's clock
    /// now, which the nonces follow. (A webhook's may be a retried delivery's.)
    pub(crate) fn check_response(&self, body: &[u8], timestamp: &str, signature: &str) -> Result<(), Error> {
        self.check(body, timestamp, signature)?;
        crate::auth::nonce_clock::observe_cobo_time(timestamp);
        Ok(())
    }
}

/// Verifies a webhook or callback delivery with the environment's key.
pub fn verify_webhook(
    body: Vec<u8>,
    timestamp: String,
    signature: String,
    environment: Environment,
) -> Result<(), CoboOAuthError> {
    Ok(ResponseVerifier::new(environment).check(&body, &timestamp, &signature)?)
}

/// Verifies a webhook or callback delivery with an explicit Cobo public key.
pub fn verify_webhook_with_key(
    body: Vec<u8>,
    timestamp: String,
    signature: String,
    public_key_hex: String,
) -> Result<(), CoboOAuthError> {
    Ok(ResponseVerifier::with_key(public_key_hex)?.check(&body, &timestamp, &signature)?)
}
