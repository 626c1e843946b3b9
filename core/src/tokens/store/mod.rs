//! Where a TokenManager keeps tokens, and how processes sharing a store take turns
//! renewing them.
//!
//! Two traits, both implementable in every language:
//! - `TokenStore` (load, save, delete) is what a TokenManager is given. A plain one
//!   serves one process: the manager renews at most once per org at a time within it.
//! - `CoordinatedTokenStore` adds a lease per org, versioned reads and compare-and-set
//!   saves, so that many processes or hosts renew each token once and never present a
//!   spent refresh token. `coordinated_token_store` turns one into a `TokenStore`.
//!
//! Engines: memory (one process), a JSON file (one host: `flock`), Redis (many hosts).
//! The file and Redis stores seal what they write (`sealing.rs`).

mod coordinated;
mod deadline;
mod file;
mod memory;
mod record;
#[cfg(feature = "redis")]
mod redis;
mod sealing;
mod traits;

pub use coordinated::coordinated_token_store;
pub(crate) use coordinated::SingleProcess;
pub(crate) use deadline::within;
pub use file::file_token_store;
pub use memory::memory_token_store;
#[cfg(feature = "redis")]
pub use self::redis::redis_token_store;
pub use sealing::StoreKey;
pub use traits::{CoordinatedTokenStore, StoredToken, TokenStore, VersionedToken};

#[cfg(not(feature = "redis"))]
use crate::CoboOAuthError;
#[cfg(not(feature = "redis"))]
use std::sync::Arc;

/// Without the `redis` feature `redis_token_store` still exists (the UDL declares it
/// for every binding) and says what is missing.
#[cfg(not(feature = "redis"))]
pub fn redis_token_store(
    _url: crate::Secret,
    _key_prefix: String,
    _timeout_ms: u64,
    _store_key: Option<Arc<StoreKey>>,
) -> Result<Arc<dyn TokenStore>, CoboOAuthError> {
    Err(CoboOAuthError::InvalidArgument {
        reason: "this build of cobo-oauth has no Redis support (cargo feature `redis`)".into(),
    })
}
