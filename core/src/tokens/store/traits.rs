//! What a store is: the two traits every language can implement, and the records they
//! hold.

use std::sync::Arc;

pub use super::record::StoredToken;
use super::sealing::StoreKey;
use crate::CoboOAuthError;

/// A record as a coordinated store holds it: the token (None before the first save or
/// after a delete) and its version, 0 before the first save and bumped by every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedToken {
    pub token: Option<StoredToken>,
    pub version: u64,
}

/// Keeps tokens across restarts. Errors become `CoboOAuthError::Store`. The manager
/// calls a store while it renews that org: a store must not call back into the
/// manager for the same org.
pub trait TokenStore: Send + Sync {
    fn load(&self, org_id: String) -> Result<Option<StoredToken>, CoboOAuthError>;
    fn save(&self, org_id: String, token: StoredToken) -> Result<(), CoboOAuthError>;
    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError>;

    /// The coordination this store offers, if any. Only stores built by
    /// `coordinated_token_store` (and the file and Redis stores) have one.
    #[doc(hidden)]
    fn coordinated(&self) -> Option<Arc<dyn CoordinatedTokenStore>> {
        None
    }

    /// UniFFI's hook for stores implemented in other languages (`[Trait, WithForeign]`
    /// in the UDL needs it spelled out).
    #[doc(hidden)]
    fn uniffi_foreign_handle(&self) -> Option<uniffi::Handle> {
        None
    }
}

/// A store that many processes can share: see the module comment, and the protocol
/// in the README's "Many workers and replicas".
pub trait CoordinatedTokenStore: Send + Sync {
    /// The org's record; `version` 0 and no token when there is none.
    fn load_versioned(&self, org_id: String) -> Result<VersionedToken, CoboOAuthError>;
    /// Saves `token` and bumps the version if the stored version is still
    /// `expected_version`; returns false (and changes nothing) otherwise.
    fn save_if_version(&self, org_id: String, token: StoredToken, expected_version: u64)
        -> Result<bool, CoboOAuthError>;
    /// Forgets the org's token (its authorization is gone) and bumps the version.
    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError>;
    /// Takes the org's renewal lease for `owner` if nobody holds it; it lapses after
    /// `ttl_ms` unless extended. Returns whether `owner` now holds it.
    fn acquire_lease(&self, org_id: String, owner: String, ttl_ms: u64) -> Result<bool, CoboOAuthError>;
    /// Pushes the lease's end to `ttl_ms` from now if `owner` still holds it; returns
    /// whether it does.
    fn extend_lease(&self, org_id: String, owner: String, ttl_ms: u64) -> Result<bool, CoboOAuthError>;
    /// Gives the lease up if `owner` holds it (never someone else's).
    fn release_lease(&self, org_id: String, owner: String) -> Result<(), CoboOAuthError>;

    /// The key to seal records with, offered by each TokenManager this store is given
    /// to (derived from its app key). The built-in stores take the first offer unless
    /// they were built with a key; a store wrapping one passes it on.
    fn offer_store_key(&self, _key: Arc<StoreKey>) {}

    #[doc(hidden)]
    fn uniffi_foreign_handle(&self) -> Option<uniffi::Handle> {
        None
    }
}
