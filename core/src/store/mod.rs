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

mod file;
mod memory;
mod record;
#[cfg(feature = "redis")]
mod redis;

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::{CoboOAuthError, OrgToken};

pub use file::file_token_store;
pub use memory::memory_token_store;
#[cfg(feature = "redis")]
pub use self::redis::redis_token_store;

/// The last token issued for an organization, and when its refresh token expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub token: OrgToken,
    pub refresh_expires_at: SystemTime,
    /// Written to a shared store before the refresh token is presented: see the UDL.
    pub refresh_in_flight: bool,
}

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

    #[doc(hidden)]
    fn uniffi_foreign_handle(&self) -> Option<uniffi::Handle> {
        None
    }
}

/// A `TokenStore` that coordinates through `store`: the TokenManager renews each of
/// its tokens once across every process sharing the store.
pub fn coordinated_token_store(store: Arc<dyn CoordinatedTokenStore>) -> Arc<dyn TokenStore> {
    Arc::new(Coordinated(store))
}

struct Coordinated(Arc<dyn CoordinatedTokenStore>);

/// A plain save over a versioned store: retried while other processes' saves win.
const SAVE_ATTEMPTS: u32 = 8;

impl TokenStore for Coordinated {
    fn load(&self, org_id: String) -> Result<Option<StoredToken>, CoboOAuthError> {
        Ok(self.0.load_versioned(org_id)?.token)
    }

    fn save(&self, org_id: String, token: StoredToken) -> Result<(), CoboOAuthError> {
        for _ in 0..SAVE_ATTEMPTS {
            let version = self.0.load_versioned(org_id.clone())?.version;
            if self.0.save_if_version(org_id.clone(), token.clone(), version)? {
                return Ok(());
            }
        }
        Err(CoboOAuthError::Store { reason: "other processes kept changing the record; not saved".into() })
    }

    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        self.0.delete(org_id)
    }

    fn coordinated(&self) -> Option<Arc<dyn CoordinatedTokenStore>> {
        Some(Arc::clone(&self.0))
    }
}

/// A plain store seen through the coordinated protocol, for one process: the lease is
/// always granted (the manager's own single flight already excludes this process's
/// other callers), versions stay 0 and saves always win.
pub(crate) struct SingleProcess(pub(crate) Arc<dyn TokenStore>);

impl CoordinatedTokenStore for SingleProcess {
    fn load_versioned(&self, org_id: String) -> Result<VersionedToken, CoboOAuthError> {
        Ok(VersionedToken { token: self.0.load(org_id)?, version: 0 })
    }

    fn save_if_version(&self, org_id: String, token: StoredToken, _: u64) -> Result<bool, CoboOAuthError> {
        self.0.save(org_id, token).map(|()| true)
    }

    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        self.0.delete(org_id)
    }

    fn acquire_lease(&self, _: String, _: String, _: u64) -> Result<bool, CoboOAuthError> {
        Ok(true)
    }

    fn extend_lease(&self, _: String, _: String, _: u64) -> Result<bool, CoboOAuthError> {
        Ok(true)
    }

    fn release_lease(&self, _: String, _: String) -> Result<(), CoboOAuthError> {
        Ok(())
    }
}

thread_local! {
    /// When the store calls this thread makes must have ended (`within`).
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// How long a built-in store waits for a lock when no deadline is set.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// Runs `work` with the built-in stores' waits on this thread (the token file's lock)
/// ending by `deadline`: a renewal's store calls end with it. (Redis commands are bounded
/// by the store's own `timeout_ms`.)
pub(crate) fn within<T>(deadline: Instant, work: impl FnOnce() -> T) -> T {
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEADLINE.with(|cell| cell.set(self.0));
        }
    }
    let _restore = Restore(DEADLINE.with(|cell| cell.replace(Some(deadline))));
    work()
}

/// Until when a store call on this thread may wait.
pub(crate) fn wait_until() -> Instant {
    DEADLINE.with(Cell::get).unwrap_or_else(|| Instant::now() + DEFAULT_WAIT)
}

/// Without the `redis` feature `redis_token_store` still exists (the UDL declares it
/// for every binding) and says what is missing.
#[cfg(not(feature = "redis"))]
pub fn redis_token_store(_url: crate::Secret, _key_prefix: String, _timeout_ms: u64) -> Result<Arc<dyn TokenStore>, CoboOAuthError> {
    Err(CoboOAuthError::InvalidArgument {
        reason: "this build of cobo-oauth has no Redis support (cargo feature `redis`)".into(),
    })
}
