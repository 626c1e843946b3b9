//! One JSON file holding every org's token, shared by the processes of one host.
//!
//! - Changes are read-modify-write cycles under `flock` on `<file>.lock`, and land by
//!   rename of an exclusively created temp file (0600), then a directory fsync.
//! - A renewal lease is `flock` on `<file>.leases/<hash of the org id>`, held while the
//!   renewal runs: the kernel drops it when its holder dies, so no lease outlives one.
//! - Reads take no lock: a rename is atomic, so a reader sees one whole version.
//! - A file that does not parse is moved aside (never quoted: it holds tokens) and the
//!   store starts empty, so one bad byte cannot stop every org for ever.
//!
//! Local filesystems only: `flock` over NFS is not reliable.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use once_cell::sync::OnceCell;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::record::Record;
use super::{coordinated_token_store, CoordinatedTokenStore, StoredToken, TokenStore, VersionedToken};
use crate::fork::ForkLocal;
use crate::sync::lock;
use crate::{events, CoboOAuthError, Secret};

/// A TokenStore in one JSON file (mode 0600) that the processes of one host can share.
pub fn file_token_store(path: String) -> Result<Arc<dyn TokenStore>, CoboOAuthError> {
    if path.trim().is_empty() {
        return Err(CoboOAuthError::InvalidArgument { reason: "the token file path must not be empty".into() });
    }
    let store = FileStore {
        path: PathBuf::from(path),
        canonical: OnceCell::new(),
        leases: ForkLocal::new(Mutex::default(), |_| Mutex::default()),
    };
    Ok(coordinated_token_store(Arc::new(store)))
}

struct FileStore {
    path: PathBuf,
    /// The path with its directory resolved, found on first use (creating a store does
    /// no I/O): every lock is keyed by it, whatever relative path or link led here.
    canonical: OnceCell<PathBuf>,
    /// The lease files this process holds, by org and owner. A forked child starts
    /// with none (the parent releases its own).
    leases: ForkLocal<Mutex<HashMap<(String, String), Locked>>>,
}

/// One org in the file. A deleted org keeps its version, so versions never go back.
#[derive(Serialize, Deserialize)]
struct Entry {
    #[serde(flatten)]
    record: Option<Record>,
    #[serde(default)]
    version: u64,
}

type Entries = HashMap<String, Entry>;

/// The file exists but is not a token file.
struct Corrupt;

impl FileStore {
    fn canonical(&self) -> Result<&Path, CoboOAuthError> {
        self.canonical
            .get_or_try_init(|| {
                let name = self.path.file_name().ok_or_else(|| self.error("names no file", &""))?;
                let dir = match self.path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir,
                    _ => Path::new("."),
                };
                let dir = fs::canonicalize(dir).map_err(|e| self.error("has no usable directory", &e))?;
                Ok(dir.join(name))
            })
            .map(PathBuf::as_path)
    }

    /// `<file><suffix>`, next to the file.
    fn sibling(&self, suffix: &str) -> Result<PathBuf, CoboOAuthError> {
        let mut path = self.canonical()?.as_os_str().to_owned();
        path.push(suffix);
        Ok(PathBuf::from(path))
    }

    fn read(&self) -> Result<Result<Entries, Corrupt>, CoboOAuthError> {
        match fs::read(self.canonical()?) {
            Ok(mut bytes) => {
                let parsed = serde_json::from_slice(&bytes).map_err(|_| Corrupt);
                crate::secret::wipe(&mut bytes);
                Ok(parsed)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Ok(Entries::new())),
            Err(e) => Err(self.error("cannot be read", &e)),
        }
    }

    /// Runs `change` on the entries under the write lock; writes them if it says so.
    fn change<T>(&self, change: impl FnOnce(&mut Entries) -> (T, bool)) -> Result<T, CoboOAuthError> {
        let until = super::wait_until();
        let _locked = Locked::open(&self.sibling(".lock")?, Wait::Until(until)).map_err(|e| self.error("cannot be locked", &e))?;
        let mut entries = match self.read()? {
            Ok(entries) => entries,
            Err(Corrupt) => self.move_aside()?,
        };
        let (result, changed) = change(&mut entries);
        if changed {
            self.write(&entries)?;
        }
        Ok(result)
    }

    /// Under the write lock: keeps the unreadable file for a human, starts empty.
    fn move_aside(&self) -> Result<Entries, CoboOAuthError> {
        let aside = self.sibling(&format!(".corrupt-{}", crate::random::u64()))?;
        fs::rename(self.canonical()?, &aside).map_err(|e| self.error("is not a token file and cannot be moved aside", &e))?;
        events::store_file_corrupt(&self.path, &aside);
        Ok(Entries::new())
    }

    /// A temp file created exclusively (never through a link), 0600 whatever the
    /// umask, synced, renamed over the file; then the directory is synced so the
    /// rename survives a crash.
    fn write(&self, entries: &Entries) -> Result<(), CoboOAuthError> {
        let json = Secret::new(serde_json::to_string_pretty(entries).map_err(|e| self.error("cannot be encoded", &e))?);
        let path = self.canonical()?;
        let temp = self.sibling(&format!(".tmp-{:016x}", crate::random::u64()))?;
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temp)
            .and_then(|mut file| {
                file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
                file.write_all(json.expose().as_bytes())?;
                file.sync_all()
            })
            .and_then(|()| fs::rename(&temp, path));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(self.error("cannot be written", &e));
        }
        if let Some(dir) = path.parent() {
            File::open(dir).and_then(|dir| dir.sync_all()).map_err(|e| self.error("directory cannot be synced", &e))?;
        }
        Ok(())
    }

    fn lease_path(&self, org_id: &str) -> Result<PathBuf, CoboOAuthError> {
        let dir = self.sibling(".leases")?;
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(self.error("lease directory cannot be created", &e)),
        }
        Ok(dir.join(&crate::hex::encode(&Sha256::digest(org_id.as_bytes()))[..32]))
    }

    fn error(&self, what: &str, err: &dyn std::fmt::Display) -> CoboOAuthError {
        let detail = err.to_string();
        let detail = if detail.is_empty() { String::new() } else { format!(": {detail}") };
        CoboOAuthError::Store { reason: format!("token file {} {what}{detail}", self.path.display()) }
    }
}

impl CoordinatedTokenStore for FileStore {
    fn load_versioned(&self, org_id: String) -> Result<VersionedToken, CoboOAuthError> {
        let entries = match self.read()? {
            Ok(entries) => entries,
            // Recovery needs the write lock; another process may have done it already.
            Err(Corrupt) => self.change(|entries| (std::mem::take(entries), false))?,
        };
        Ok(match entries.into_iter().find(|(id, _)| *id == org_id) {
            Some((_, entry)) => VersionedToken { token: entry.record.map(Record::into_stored), version: entry.version },
            None => VersionedToken { token: None, version: 0 },
        })
    }

    fn save_if_version(&self, org_id: String, token: StoredToken, expected_version: u64) -> Result<bool, CoboOAuthError> {
        self.change(|entries| {
            let version = entries.get(&org_id).map_or(0, |entry| entry.version);
            if version != expected_version {
                return (false, false);
            }
            entries.insert(org_id, Entry { record: Some(Record::from_stored(&token)), version: version + 1 });
            (true, true)
        })
    }

    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        self.change(|entries| match entries.get_mut(&org_id) {
            Some(entry) if entry.record.is_some() => {
                entry.record = None;
                entry.version += 1;
                ((), true)
            }
            _ => ((), false),
        })
    }

    fn acquire_lease(&self, org_id: String, owner: String, _ttl_ms: u64) -> Result<bool, CoboOAuthError> {
        let path = self.lease_path(&org_id)?;
        match Locked::open(&path, Wait::No) {
            Ok(locked) => {
                lock(self.leases.get()).insert((org_id, owner), locked);
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(self.error("lease cannot be taken", &e)),
        }
    }

    /// A `flock` never lapses; the lease is lost only if its file was removed.
    fn extend_lease(&self, org_id: String, owner: String, _ttl_ms: u64) -> Result<bool, CoboOAuthError> {
        let path = self.lease_path(&org_id)?;
        Ok(lock(self.leases.get()).get(&(org_id, owner)).is_some_and(|locked| locked.is_at(&path)))
    }

    fn release_lease(&self, org_id: String, owner: String) -> Result<(), CoboOAuthError> {
        lock(self.leases.get()).remove(&(org_id, owner));
        Ok(())
    }
}

enum Wait {
    /// Polls until then: another process may hold the lock for as long as it is stopped.
    Until(std::time::Instant),
    No,
}

/// The pauses between polls of a held lock: from the first to the last, doubling.
const LOCK_POLL: (std::time::Duration, std::time::Duration) =
    (std::time::Duration::from_millis(2), std::time::Duration::from_millis(50));

/// An exclusive `flock` on a lock file, released on drop.
struct Locked(File);

impl Locked {
    /// Opens (never through a link) and locks `path`; retries if the file was replaced
    /// or removed meanwhile, since a lock on an unlinked file excludes nobody.
    fn open(path: &Path, wait: Wait) -> std::io::Result<Locked> {
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)?;
            let mut pause = LOCK_POLL.0;
            loop {
                match (file.try_lock(), &wait) {
                    (Ok(()), _) => break,
                    (Err(fs::TryLockError::Error(e)), _) => return Err(e),
                    (Err(fs::TryLockError::WouldBlock), Wait::Until(until)) if std::time::Instant::now() + pause < *until => {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(LOCK_POLL.1);
                    }
                    (Err(fs::TryLockError::WouldBlock), Wait::Until(_)) => {
                        return Err(std::io::Error::new(ErrorKind::TimedOut, "held by another process past the deadline"));
                    }
                    (Err(fs::TryLockError::WouldBlock), Wait::No) => return Err(ErrorKind::WouldBlock.into()),
                }
            }
            let locked = Locked(file);
            if locked.is_at(path) {
                return Ok(locked);
            }
        }
    }

    fn is_at(&self, path: &Path) -> bool {
        match (self.0.metadata(), fs::symlink_metadata(path)) {
            (Ok(held), Ok(named)) => held.dev() == named.dev() && held.ino() == named.ino(),
            _ => false,
        }
    }
}

impl Drop for Locked {
    /// Unlocks explicitly: a forked child may share this open file, and closing ours
    /// alone would leave the lock held for as long as the child lives.
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OrgToken;
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, SystemTime};

    fn dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cobo-oauth-file-{:016x}", crate::random::u64()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn store(path: &Path) -> FileStore {
        FileStore { path: path.to_owned(), canonical: OnceCell::new(), leases: ForkLocal::new(Mutex::default(), |_| Mutex::default()) }
    }

    fn token(access: &str) -> StoredToken {
        let later = SystemTime::now() + Duration::from_secs(3600);
        let token = OrgToken {
            access_token: Secret::new(access),
            token_type: "Bearer".into(),
            scope: String::new(),
            expires_in: 3600,
            refresh_token: Secret::new(format!("refresh-{access}")),
            expires_at: later,
        };
        StoredToken { token, refresh_expires_at: later, refresh_in_flight: false }
    }

    #[test]
    fn versions_only_move_forward() {
        let dir = dir();
        let store = store(&dir.join("tokens.json"));
        assert_eq!(store.load_versioned("org".into()).unwrap(), VersionedToken { token: None, version: 0 });
        assert!(store.save_if_version("org".into(), token("a"), 0).unwrap());
        assert!(!store.save_if_version("org".into(), token("stale"), 0).unwrap(), "a stale writer loses");
        store.delete("org".into()).unwrap();
        assert_eq!(store.load_versioned("org".into()).unwrap(), VersionedToken { token: None, version: 2 });
        assert!(store.save_if_version("org".into(), token("b"), 2).unwrap());
        let stored = store.load_versioned("org".into()).unwrap().token.unwrap();
        assert_eq!(stored.token.access_token, Secret::new("b"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_and_never_quoted() {
        let dir = dir();
        let path = dir.join("tokens.json");
        fs::write(&path, r#"{"org": {"access_token": "QUOTE-ME-NOT", "version": "x"}}"#).unwrap();
        let store = store(&path);
        assert_eq!(store.load_versioned("org".into()).unwrap().token, None);
        let aside: Vec<_> = fs::read_dir(&dir).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().contains(".corrupt-")).collect();
        assert_eq!(aside.len(), 1);
        assert!(store.save_if_version("org".into(), token("a"), 0).unwrap());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_file_is_0600_whatever_it_was_before() {
        let dir = dir();
        let path = dir.join("tokens.json");
        fs::write(&path, "{}").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(store(&path).save_if_version("org".into(), token("a"), 0).unwrap());
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_lock_file_that_is_a_link_is_not_followed() {
        let dir = dir();
        let path = dir.join("tokens.json");
        let elsewhere = dir.join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, dir.join("tokens.json.lock")).unwrap();
        let err = store(&path).save_if_version("org".into(), token("a"), 0).unwrap_err();
        assert!(matches!(err, CoboOAuthError::Store { .. }), "{err:?}");
        assert!(!elsewhere.exists(), "the link was followed");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_lease_is_exclusive_until_released_and_lost_when_its_file_goes() {
        let dir = dir();
        let store = store(&dir.join("tokens.json"));
        assert!(store.acquire_lease("org".into(), "a".into(), 1000).unwrap());
        assert!(!store.acquire_lease("org".into(), "b".into(), 1000).unwrap());
        assert!(store.acquire_lease("other-org".into(), "b".into(), 1000).unwrap(), "orgs do not share leases");
        assert!(store.extend_lease("org".into(), "a".into(), 1000).unwrap());
        assert!(!store.extend_lease("org".into(), "b".into(), 1000).unwrap());
        store.release_lease("org".into(), "a".into()).unwrap();
        assert!(store.acquire_lease("org".into(), "b".into(), 1000).unwrap());
        fs::remove_file(store.lease_path("org").unwrap()).unwrap();
        assert!(!store.extend_lease("org".into(), "b".into(), 1000).unwrap(), "a removed lease file is a lost lease");
        fs::remove_dir_all(dir).unwrap();
    }
}
