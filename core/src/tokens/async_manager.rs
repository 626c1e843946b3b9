//! A TokenManager's token calls as futures, for async callers (tokio, Kotlin coroutines,
//! Swift concurrency, Python's asyncio); any executor may poll them.
//!
//! A fresh cached token is ready on the first poll, on the caller's thread; a caller
//! that must wait subscribes to the org's one flight in progress (a waker, not a thread),
//! and that renewal runs on a thread of the I/O runtime's blocking pool, shared with
//! blocking callers. A token call therefore never blocks an executor and costs at most
//! one thread per renewal, whatever the number of waiters (the pool is bounded: many
//! orgs renewing at once take turns).

use std::sync::Arc;

use crate::http::runtime::callback_channel;
use crate::tokens::manager::TokenManager;
use crate::tokens::store::StoredToken;
use crate::{CoboOAuthError, Secret};

/// A TokenManager's token calls as futures. Share the TokenManager with blocking
/// callers: both kinds wait for the same renewal.
#[derive(Debug)]
pub struct AsyncTokenManager {
    manager: Arc<TokenManager>,
}

impl AsyncTokenManager {
    pub fn new(manager: Arc<TokenManager>) -> Self {
        AsyncTokenManager { manager }
    }

    /// The org's current token: ready at once from the cache, else the renewal's.
    pub async fn token(&self, org_id: String) -> Result<StoredToken, CoboOAuthError> {
        let (notify, outcome) = callback_channel();
        match self.manager.token_or_notify(org_id, notify) {
            Some(ready) => ready,
            None => outcome.await,
        }
    }

    /// A valid access token for the org.
    pub async fn access_token(&self, org_id: String) -> Result<Secret, CoboOAuthError> {
        Ok(self.token(org_id).await?.token.access_token)
    }

    /// `Bearer <access token>`.
    pub async fn authorization_header(&self, org_id: String) -> Result<Secret, CoboOAuthError> {
        Ok(Secret::new(format!("Bearer {}", self.access_token(org_id).await?.expose())))
    }

    /// The access token when the cache serves it as it is (`TokenManager::cached`), else
    /// None. Never waits: the fast path of `access_token` for bindings whose futures cost
    /// more than a call (Swift's).
    pub fn cached_access_token(&self, org_id: String) -> Option<Secret> {
        self.manager.cached(&org_id).map(|stored| stored.token.access_token)
    }
}

/// Swift's fast path, outside the UDL (no binding's API; core/uniffi.toml keeps it out of
/// Kotlin): `cached_access_token` with an empty Secret for None, since UniFFI's Swift reads
/// an optional through Foundation's `Data`, which costs more than the call itself.
#[uniffi::export]
impl AsyncTokenManager {
    pub fn cached_access_token_or_empty(&self, org_id: String) -> Secret {
        self.cached_access_token(org_id).unwrap_or_else(|| Secret::new(String::new()))
    }
}
