//! cobo-oauth: Cobo WaaS 2.0 OAuth for Portal Apps. Signs requests with the app's
//! Ed25519 key, gets and refreshes Org Access Tokens, verifies Cobo's response
//! signatures. The cross-language API is `cobo_oauth.udl`; this crate is also a
//! plain Rust library with the same names.

mod async_api;
mod blocking_pool;
mod client;
mod config;
mod error;
mod events;
mod ffi;
mod fork;
mod hex;
mod http;
mod keys;
mod log_sink;
mod manager;
mod nonce_clock;
mod random;
mod refusal;
mod request_auth;
mod retry_after;
mod runtime;
mod secret;
mod signing;
mod store;
mod sync;
mod verify;

pub use async_api::{AsyncOAuthClient, AsyncTokenManager};
pub use client::{OAuthClient, OrgToken};
pub use config::{ClientConfig, Environment};
pub use error::CoboOAuthError;
pub use keys::AppKey;
pub use log_sink::{set_log_sink, LogLevel, LogRecord, LogSink};
pub use manager::{TokenLease, TokenManager, TokenManagerConfig};
pub use refusal::{classify_refusal, Refusal, COBOAUTH_RESENDS};
pub use request_auth::{CoboAuth, VerifiedResponse};
pub use secret::Secret;
pub use signing::{canonical_content, content_digest, SignedRequest};
pub use store::{
    coordinated_token_store, file_token_store, memory_token_store, redis_token_store, CoordinatedTokenStore, StoredToken,
    TokenStore, VersionedToken,
};
pub use verify::{verify_webhook, verify_webhook_with_key, ResponseVerifier};

/// The README's Rust quickstart, compiled by `cargo test`.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

// At the crate root: UniFFI's library mode matches the UDL's `[Custom] typedef` by
// module path, and refuses a definition registered from a submodule.
uniffi::custom_type!(Secret, String, {
    try_lift: |value| Ok(Secret::new(value)),
    lower: |secret| secret.expose().to_owned(),
});

uniffi::include_scaffolding!("cobo_oauth");
