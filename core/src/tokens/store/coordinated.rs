//! The two ways a `TokenStore` and a `CoordinatedTokenStore` meet: a coordinated store
//! offered as a plain one (`coordinated_token_store`), and a plain store seen through the
//! coordinated protocol by one process (`SingleProcess`).

use std::sync::Arc;

use super::traits::{CoordinatedTokenStore, StoredToken, TokenStore, VersionedToken};
use crate::CoboOAuthError;

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
