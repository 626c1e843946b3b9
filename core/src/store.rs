//! Where a TokenManager keeps tokens: the `TokenStore` trait (implementable in every
//! language), an in-memory store and a JSON file store.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use once_cell::sync::Lazy;
use serde::{Deserialize, Serialize};

use crate::fork::{inherit_unlocked, ForkLocal};
use crate::sync::lock;
use crate::{CoboOAuthError, OrgToken, Secret};

/// The last token issued for an organization, and when its refresh token expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub token: OrgToken,
    pub refresh_expires_at: SystemTime,
}

/// Keeps tokens across restarts. Errors become `CoboOAuthError::Store`. The manager
/// calls a store while it holds that org's lock: a store must not call back into the
/// manager for the same org.
pub trait TokenStore: Send + Sync {
    fn load(&self, org_id: String) -> Result<Option<StoredToken>, CoboOAuthError>;
    fn save(&self, org_id: String, token: StoredToken) -> Result<(), CoboOAuthError>;
    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError>;

    /// UniFFI's hook for stores implemented in other languages (`[Trait, WithForeign]`
    /// in the UDL needs it spelled out).
    #[doc(hidden)]
    fn uniffi_foreign_handle(&self) -> Option<uniffi::Handle> {
        None
    }
}

/// The default store: a map in memory.
pub fn memory_token_store() -> Arc<dyn TokenStore> {
    Arc::new(MemoryStore::default())
}

/// A JSON file holding every org's token, mode 0600, replaced atomically on change.
pub fn file_token_store(path: String) -> Result<Arc<dyn TokenStore>, CoboOAuthError> {
    if path.trim().is_empty() {
        return Err(CoboOAuthError::InvalidArgument { reason: "the token file path must not be empty".into() });
    }
    Ok(Arc::new(FileStore { path: PathBuf::from(path) }))
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

/// One file for all orgs; the lock (one per path) serializes this process's
/// read-modify-write cycles. (Processes sharing a file need a lock of their own.)
struct FileStore {
    path: PathBuf,
}

/// The file's shape: times as Unix milliseconds.
#[derive(Serialize, Deserialize)]
struct FileEntry {
    access_token: String,
    token_type: String,
    scope: String,
    expires_in: i64,
    refresh_token: String,
    expires_at_ms: u64,
    refresh_expires_at_ms: u64,
}

impl FileStore {
    fn read(&self) -> Result<HashMap<String, FileEntry>, CoboOAuthError> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| self.error("is not a token file", &e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
            Err(e) => Err(self.error("cannot be read", &e)),
        }
    }

    /// Writes a sibling temp file (0600), syncs it, renames it over the old one.
    fn write(&self, entries: &HashMap<String, FileEntry>) -> Result<(), CoboOAuthError> {
        let json = Secret::new(serde_json::to_string_pretty(entries).map_err(|e| self.error("cannot be encoded", &e))?);
        // Unique per process and write, so no two writers ever share a temp file.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let mut temp = self.path.clone().into_os_string();
        temp.push(format!(".tmp{}.{}", std::process::id(), WRITES.fetch_add(1, Ordering::Relaxed)));
        let temp = PathBuf::from(temp);
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&temp).and_then(|mut file| {
            file.write_all(json.expose().as_bytes())?;
            file.sync_all()
        });
        match written.and_then(|()| fs::rename(&temp, &self.path)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = fs::remove_file(&temp);
                Err(self.error("cannot be written", &e))
            }
        }
    }

    fn error(&self, what: &str, err: &dyn std::fmt::Display) -> CoboOAuthError {
        CoboOAuthError::Store { reason: format!("{} {what}: {err}", self.path.display()) }
    }

    /// Stores on one path share one lock, so their read-modify-write cycles never
    /// interleave. Per process: a lock held by a parent thread at a fork is not inherited.
    fn file_lock(&self) -> Arc<Mutex<()>> {
        type Locks = Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>;
        static LOCKS: Lazy<ForkLocal<Locks>> = Lazy::new(|| ForkLocal::new(Locks::default(), |_| Locks::default()));
        lock(LOCKS.get()).entry(self.path.clone()).or_default().clone()
    }
}

impl TokenStore for FileStore {
    fn load(&self, org_id: String) -> Result<Option<StoredToken>, CoboOAuthError> {
        let file_lock = self.file_lock();
        let _guard = lock(&file_lock);
        Ok(self.read()?.remove(&org_id).map(FileEntry::into_stored))
    }

    fn save(&self, org_id: String, token: StoredToken) -> Result<(), CoboOAuthError> {
        let file_lock = self.file_lock();
        let _guard = lock(&file_lock);
        let mut entries = self.read()?;
        entries.insert(org_id, FileEntry::from_stored(&token));
        self.write(&entries)
    }

    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        let file_lock = self.file_lock();
        let _guard = lock(&file_lock);
        let mut entries = self.read()?;
        if entries.remove(&org_id).is_some() {
            self.write(&entries)?;
        }
        Ok(())
    }
}

impl FileEntry {
    fn from_stored(stored: &StoredToken) -> Self {
        let token = &stored.token;
        FileEntry {
            access_token: token.access_token.expose().to_owned(),
            token_type: token.token_type.clone(),
            scope: token.scope.clone(),
            expires_in: token.expires_in,
            refresh_token: token.refresh_token.expose().to_owned(),
            expires_at_ms: to_ms(token.expires_at),
            refresh_expires_at_ms: to_ms(stored.refresh_expires_at),
        }
    }

    fn into_stored(mut self) -> StoredToken {
        StoredToken {
            token: OrgToken {
                access_token: Secret::new(std::mem::take(&mut self.access_token)),
                token_type: std::mem::take(&mut self.token_type),
                scope: std::mem::take(&mut self.scope),
                expires_in: self.expires_in,
                refresh_token: Secret::new(std::mem::take(&mut self.refresh_token)),
                expires_at: from_ms(self.expires_at_ms),
            },
            refresh_expires_at: from_ms(self.refresh_expires_at_ms),
        }
    }
}

impl Drop for FileEntry {
    fn drop(&mut self) {
        crate::secret::wipe(&mut std::mem::take(&mut self.access_token).into_bytes());
        crate::secret::wipe(&mut std::mem::take(&mut self.refresh_token).into_bytes());
    }
}

fn to_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH.checked_add(Duration::from_millis(ms)).unwrap_or(UNIX_EPOCH)
}
