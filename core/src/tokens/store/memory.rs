//! The default store: a map in memory, for one process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::traits::{StoredToken, TokenStore};
use crate::util::fork_local::{inherit_unlocked, ForkLocal};
use crate::util::lock::lock;
use crate::CoboOAuthError;

/// The default store: a map in memory.
pub fn memory_token_store() -> Arc<dyn TokenStore> {
    Arc::new(MemoryStore::default())
}

/// A map per process: a forked child keeps the parent's tokens unless a parent thread
/// was changing them at the fork.
struct MemoryStore {
    tokens: ForkLocal<Mutex<HashMap<String, StoredToken>>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore { tokens: ForkLocal::new(Mutex::default(), inherit_unlocked) }
    }
}

impl MemoryStore {
    fn tokens(&self) -> MutexGuard<'_, HashMap<String, StoredToken>> {
        lock(self.tokens.get())
    }
}

impl TokenStore for MemoryStore {
    fn load(&self, org_id: String) -> Result<Option<StoredToken>, CoboOAuthError> {
        Ok(self.tokens().get(&org_id).cloned())
    }

    fn save(&self, org_id: String, token: StoredToken) -> Result<(), CoboOAuthError> {
        self.tokens().insert(org_id, token);
        Ok(())
    }

    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        self.tokens().remove(&org_id);
        Ok(())
    }
}
