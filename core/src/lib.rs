//! cobo-oauth: Cobo WaaS 2.0 OAuth for Portal Apps. Signs requests with the app's
//! Ed25519 key, gets and refreshes Org Access Tokens, verifies Cobo's response
//! signatures. The cross-language API is `cobo_oauth.udl`; this crate is also a
//! plain Rust library with the same names. ARCHITECTURE.md shows the layers: `auth/`
//! (keys, signing, verifying), `http/` (the client and its runtime), `tokens/` (the
//! manager and its stores), `logging/`, `util/`.

mod auth;
mod error;
mod ffi;
mod http;
mod logging;
mod secret;
mod tokens;
mod util;

pub use auth::delivery::{callback_answer, verify_delivery, DELIVERY_MAX_AGE_SECS};
pub use auth::environment::Environment;
pub use auth::keys::AppKey;
pub use auth::signing::{canonical_content, content_digest, SignedRequest};
pub use auth::verify::{verify_webhook, verify_webhook_with_key, ResponseVerifier};
pub use error::CoboOAuthError;
pub use http::async_client::AsyncOAuthClient;
pub use http::client::{OAuthClient, OrgToken};
pub use http::config::ClientConfig;
pub use http::refusal::{classify_refusal, Refusal, COBOAUTH_RESENDS};
pub use http::request_auth::{CoboAuth, VerifiedResponse};
pub use logging::sink::{set_log_sink, LogLevel, LogRecord, LogSink};
pub use secret::Secret;
pub use tokens::async_manager::AsyncTokenManager;
pub use tokens::manager::{TokenLease, TokenManager, TokenManagerConfig};
pub use tokens::store::{
    coordinated_token_store, file_token_store, memory_token_store, redis_token_store, CoordinatedTokenStore, StoreKey,
    StoredToken, TokenStore, VersionedToken,
};

/// core/README.md's Rust blocks, compiled by `cargo test`.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

// At the crate root: UniFFI's library mode matches the UDL's `[Custom] typedef` by
// module path, and refuses a definition registered from a submodule.
uniffi::custom_type!(Secret, String, {
    try_lift: |value| Ok(Secret::new(value)),
    lower: |secret| secret.expose().to_owned(),
});

uniffi::include_scaffolding!("cobo_oauth");
