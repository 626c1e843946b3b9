//! A token store on the local filesystem, shared by the processes of one host: one file
//! per org, so a save costs the same with 10 orgs or 100,000.
//!
//! Layout, for the path `tokens.json` an app gives:
//! - `tokens.json/` (0700): per org, `<h>.json` (its org id, version and sealed token:
//!   sealing.rs; 0600) and `<h>.lock`, where `<h>` is a hash of the org id. A token in
//!   clear text, as versions before sealing wrote it, is read and sealed in place.
//! - `tokens.json.leases/<h>`: the org's renewal lease, a `flock` held while the renewal
//!   runs. The kernel drops it when its holder dies, so no lease outlives one.
//! - `tokens.json.lock`: taken only to create the directory, or to migrate the one JSON
//!   file that older versions kept at `tokens.json` (read once, split, then removed).
//!
//! An org's record changes by read-compare-write under `flock` on its `.lock`, polled
//! until the caller's deadline. It lands by rename of an exclusively created temp file.
//! A change of an existing record is synced (file, then directory) before the lock is
//! released, since it may hold a rotated refresh token or its in-flight mark. An org's
//! first record is not: lost in a crash, the org is simply without a token, and
//! `org_implicit` spends nothing. Reads take no lock: a rename is atomic.
//!
//! A record that does not parse is moved aside (never quoted: it holds tokens) and the
//! org starts empty, so one bad byte cannot stop it for ever.
//!
//! Local filesystems only: `flock` over NFS is not reliable.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use once_cell::sync::OnceCell;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use super::record::Record;
use super::sealing::{KeySlot, Opened, StoreKey};
use super::coordinated::coordinated_token_store;
use super::deadline;
use super::traits::{CoordinatedTokenStore, StoredToken, TokenStore, VersionedToken};
use crate::util::fork_local::ForkLocal;
use crate::util::lock::lock;
use crate::util::private_file;
use crate::logging::events;
use crate::{CoboOAuthError, Secret};

/// A TokenStore on the local filesystem (one file per org under `path`) that the
/// processes of one host can share. Records are sealed with `store_key`, or else with
/// the key of the first TokenManager's app.
pub fn file_token_store(path: String, store_key: Option<Arc<StoreKey>>) -> Result<Arc<dyn TokenStore>, CoboOAuthError> {
    if path.trim().is_empty() {
        return Err(CoboOAuthError::InvalidArgument { reason: "the token file path must not be empty".into() });
    }
    let store = FileStore {
        path: PathBuf::from(path),
        dir: OnceCell::new(),
        leases: ForkLocal::new(Mutex::default(), |_| Mutex::default()),
        key: KeySlot::new(store_key),
    };
    Ok(coordinated_token_store(Arc::new(store)))
}

struct FileStore {
    path: PathBuf,
    /// The records' directory, its parent resolved (every lock is keyed by it, whatever
    /// relative path or link led here). Made on first use: creating a store does no I/O.
    dir: OnceCell<PathBuf>,
    /// The lease files this process holds, by org and owner. A forked child starts
    /// with none (the parent releases its own).
    leases: ForkLocal<Mutex<HashMap<(String, String), Locked>>>,
    key: KeySlot,
}

/// One org's record file, and one org in the single file older versions wrote (keyed by
/// org id there). A deleted org keeps its file and version, so versions never go back.
#[derive(Serialize, Deserialize)]
struct Entry {
    /// Which org the file is for, since its name is a hash.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    org_id: String,
    /// The token, sealed, in hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<String>,
    /// The token in clear text, as versions before sealing wrote it.
    #[serde(flatten)]
    record: Option<Record>,
    #[serde(default)]
    version: u64,
}

impl Entry {
    fn empty(org_id: &str) -> Self {
        Entry { org_id: org_id.to_owned(), sealed: None, record: None, version: 0 }
    }
}

/// The file exists but is not a record (for this org).
struct Corrupt;

impl FileStore {
    fn dir(&self) -> Result<&Path, CoboOAuthError> {
        self.dir
            .get_or_try_init(|| {
                let name = self.path.file_name().ok_or_else(|| self.error("names no file", &""))?;
                let parent = match self.path.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent,
                    _ => Path::new("."),
                };
                let dir = fs::canonicalize(parent).map_err(|e| self.error("has no usable directory", &e))?.join(name);
                if !fs::metadata(&dir).is_ok_and(|meta| meta.is_dir()) {
                    self.make_dir(&dir)?;
                }
                Ok(dir)
            })
            .map(PathBuf::as_path)
    }

    /// Under `<path>.lock`: creates the directory, moving in the orgs of the single file
    /// an older version kept at the same path. Built aside and renamed into place, so
    /// it appears whole; the old file waits at `<path>.v1` until then, and a migration
    /// cut short resumes from it.
    fn make_dir(&self, dir: &Path) -> Result<(), CoboOAuthError> {
        let _locked = Locked::open(&with_suffix(dir, ".lock"), Wait::Until(deadline::wait_until()))
            .map_err(|e| self.error("cannot be locked", &e))?;
        let old = with_suffix(dir, ".v1");
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) => fs::rename(dir, &old).and_then(|()| sync_parent(dir)).map_err(|e| self.error("cannot be migrated", &e))?,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(self.error("cannot be read", &e)),
        }
        let entries: HashMap<String, Entry> = match fs::read(&old) {
            Ok(mut bytes) => {
                let parsed = serde_json::from_slice(&bytes);
                bytes.zeroize();
                match parsed {
                    Ok(entries) => entries,
                    Err(_) => {
                        self.move_aside(&old, &with_suffix(dir, &format!(".corrupt-{}", crate::util::random::u64())))?;
                        HashMap::new()
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(self.error("cannot be read", &e)),
        };
        let building = with_suffix(dir, &format!(".tmp-{:016x}", crate::util::random::u64()));
        let built = private_file::create_dir(&building)
            .map_err(|e| self.error("directory cannot be created", &e))
            .and_then(|()| {
                for (org_id, mut entry) in entries {
                    entry.org_id = org_id;
                    self.write(&building.join(record_name(&entry.org_id, "json")), &entry, true)?;
                }
                private_file::sync_dir(&building)
                    .and_then(|()| fs::rename(&building, dir))
                    .and_then(|()| sync_parent(dir))
                    .map_err(|e| self.error("directory cannot be created", &e))
            });
        if built.is_err() {
            let _ = fs::remove_dir_all(&building);
        }
        built?;
        match fs::remove_file(&old) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(self.error("was migrated, but its old file cannot be removed", &e)),
            _ => Ok(()),
        }
    }

    /// The org's record; `None` if it has none, `Corrupt` if its file does not parse.
    fn read(&self, path: &Path, org_id: &str) -> Result<Result<Option<Entry>, Corrupt>, CoboOAuthError> {
        match fs::read(path) {
            Ok(mut bytes) => {
                let parsed = serde_json::from_slice::<Entry>(&bytes).ok().filter(|entry| entry.org_id == org_id);
                bytes.zeroize();
                Ok(parsed.map(Some).ok_or(Corrupt))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Ok(None)),
            Err(e) => Err(self.error("cannot be read", &e)),
        }
    }

    /// Runs `change` on the org's record under its lock; writes it if it says so.
    fn change<T>(&self, org_id: &str, change: impl FnOnce(&mut Entry) -> (T, bool)) -> Result<T, CoboOAuthError> {
        let dir = self.dir()?;
        let path = dir.join(record_name(org_id, "json"));
        let _locked = Locked::open(&dir.join(record_name(org_id, "lock")), Wait::Until(deadline::wait_until()))
            .map_err(|e| self.error("cannot be locked", &e))?;
        let (mut entry, existed) = match self.read(&path, org_id)? {
            Ok(Some(entry)) => (entry, true),
            Ok(None) => (Entry::empty(org_id), false),
            Err(Corrupt) => {
                self.move_aside(&path, &path.with_extension(format!("corrupt-{}", crate::util::random::u64())))?;
                (Entry::empty(org_id), false)
            }
        };
        let (result, changed) = change(&mut entry);
        if changed {
            self.write(&path, &entry, existed)?;
        }
        Ok(result)
    }

    /// Keeps an unreadable file for a human; the org (or the whole old file) starts empty.
    fn move_aside(&self, path: &Path, aside: &Path) -> Result<(), CoboOAuthError> {
        fs::rename(path, aside).map_err(|e| self.error("holds a file that is not a record and cannot be moved aside", &e))?;
        events::store_file_corrupt(path, aside);
        Ok(())
    }

    /// A temp file created exclusively (never through a link), 0600 whatever the
    /// umask, renamed over the record. `durable`: synced first, and the directory after,
    /// so the rename survives a crash.
    fn write(&self, path: &Path, entry: &Entry, durable: bool) -> Result<(), CoboOAuthError> {
        let json = Secret::new(serde_json::to_string_pretty(entry).map_err(|e| self.error("cannot be encoded", &e))?);
        let temp = path.with_extension(format!("tmp-{:016x}", crate::util::random::u64()));
        let written = private_file::open_options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .and_then(|mut file| {
                private_file::restrict(&file)?;
                file.write_all(json.expose().as_bytes())?;
                if durable {
                    file.sync_all()?;
                }
                Ok(())
            })
            .and_then(|()| fs::rename(&temp, path));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(self.error("cannot be written", &e));
        }
        if durable {
            sync_parent(path).map_err(|e| self.error("directory cannot be synced", &e))?;
        }
        Ok(())
    }

    /// The entry's token: sealed, or in clear text (then sealed in place, if the entry
    /// is still at `version`). One that does not open counts as missing.
    fn open(&self, org_id: &str, entry: Entry) -> Result<Option<StoredToken>, CoboOAuthError> {
        if let Some(sealed) = &entry.sealed {
            let mut bytes = vec![0; sealed.len() / 2];
            let opened = match crate::util::hex::decode_into(sealed, &mut bytes) {
                Ok(()) => self.key.get()?.open_record("", org_id, &bytes),
                Err(_) => Opened::NotSealed,
            };
            return Ok(opened.token());
        }
        let (Some(record), Ok(sealing)) = (&entry.record, self.key.get()) else {
            return Ok(entry.record.map(Record::into_stored));
        };
        let version = entry.version;
        // Best effort: the token was read; the next save seals it anyway.
        let _ = sealing.seal_record("", org_id, record).and_then(|sealed| {
            self.change(org_id, |current| {
                let unchanged = current.version == version && current.sealed.is_none() && current.record.is_some();
                if unchanged {
                    current.record = None;
                    current.sealed = Some(crate::util::hex::encode(&sealed));
                }
                ((), unchanged)
            })
        });
        Ok(entry.record.map(Record::into_stored))
    }

    fn lease_path(&self, org_id: &str) -> Result<PathBuf, CoboOAuthError> {
        let dir = with_suffix(self.dir()?, ".leases");
        match private_file::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(self.error("lease directory cannot be created", &e)),
        }
        Ok(dir.join(org_hash(org_id)))
    }

    fn error(&self, what: &str, err: &dyn std::fmt::Display) -> CoboOAuthError {
        let detail = err.to_string();
        let detail = if detail.is_empty() { String::new() } else { format!(": {detail}") };
        CoboOAuthError::Store { reason: format!("token file {} {what}{detail}", self.path.display()) }
    }
}

/// The name of an org's files: a hash, since an org id may hold any character.
fn org_hash(org_id: &str) -> String {
    crate::util::hex::encode(&Sha256::digest(org_id.as_bytes()))[..32].to_owned()
}

fn record_name(org_id: &str, extension: &str) -> String {
    format!("{}.{extension}", org_hash(org_id))
}

/// `<path><suffix>`, next to `path`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut path = path.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

/// Syncs the directory holding `path`, so a rename into it survives a crash.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    private_file::sync_dir(path.parent().unwrap_or(path))
}

impl CoordinatedTokenStore for FileStore {
    fn load_versioned(&self, org_id: String) -> Result<VersionedToken, CoboOAuthError> {
        let path = self.dir()?.join(record_name(&org_id, "json"));
        let entry = match self.read(&path, &org_id)? {
            Ok(entry) => entry,
            // Recovery needs the org's lock; another process may have done it already.
            Err(Corrupt) => Some(self.change(&org_id, |entry| (std::mem::replace(entry, Entry::empty(&org_id)), false))?),
        };
        Ok(match entry {
            Some(entry) => VersionedToken { version: entry.version, token: self.open(&org_id, entry)? },
            None => VersionedToken { token: None, version: 0 },
        })
    }

    fn save_if_version(&self, org_id: String, token: StoredToken, expected_version: u64) -> Result<bool, CoboOAuthError> {
        let sealed = crate::util::hex::encode(&self.key.get()?.seal_record("", &org_id, &Record::from_stored(&token))?);
        self.change(&org_id, |entry| {
            if entry.version != expected_version {
                return (false, false);
            }
            entry.sealed = Some(sealed);
            entry.record = None;
            entry.version += 1;
            (true, true)
        })
    }

    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        self.change(&org_id, |entry| match (entry.sealed.take(), entry.record.take()) {
            (None, None) => ((), false),
            _ => {
                entry.version += 1;
                ((), true)
            }
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

    fn offer_store_key(&self, key: Arc<StoreKey>) {
        self.key.offer(key);
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
            let file = private_file::lock_options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
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
        private_file::same_file(&self.0, path)
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
    #[cfg(unix)]
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::time::{Duration, SystemTime};

    fn dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cobo-oauth-file-{:016x}", crate::util::random::u64()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn store(path: &Path) -> FileStore {
        FileStore {
            path: path.to_owned(),
            dir: OnceCell::new(),
            leases: ForkLocal::new(Mutex::default(), |_| Mutex::default()),
            key: KeySlot::new(Some(Arc::new(StoreKey::from_bytes(vec![7; 32]).unwrap()))),
        }
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

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_corrupt_record_is_moved_aside_and_never_quoted() {
        let dir = dir();
        let store = store(&dir.join("tokens.json"));
        assert!(store.save_if_version("org".into(), token("a"), 0).unwrap());
        assert!(store.save_if_version("other".into(), token("b"), 0).unwrap());
        let record = dir.join("tokens.json").join(record_name("org", "json"));
        fs::write(&record, r#"{"org_id": "org", "access_token": "QUOTE-ME-NOT", "version": "x"}"#).unwrap();
        assert_eq!(store.load_versioned("org".into()).unwrap().token, None);
        let aside: Vec<_> = names(&dir.join("tokens.json")).into_iter().filter(|name| name.contains(".corrupt-")).collect();
        assert_eq!(aside.len(), 1);
        assert!(store.save_if_version("org".into(), token("c"), 0).unwrap());
        assert_eq!(store.load_versioned("other".into()).unwrap().version, 1, "other orgs are untouched");
        fs::remove_dir_all(dir).unwrap();
    }

    /// The single file older versions wrote is split into records, versions kept; a
    /// file that does not parse is moved aside.
    #[test]
    fn an_old_token_file_is_migrated_on_first_use() {
        let dir = dir();
        let path = dir.join("tokens.json");
        let old = store(&dir.join("old.json"));
        assert!(old.save_if_version("org".into(), token("a"), 0).unwrap());
        let record = fs::read_to_string(dir.join("old.json").join(record_name("org", "json"))).unwrap();
        let record: serde_json::Value = serde_json::from_str(&record).unwrap();
        let mut entry = record.clone();
        entry["version"] = 7.into();
        fs::write(&path, serde_json::json!({"org": entry, "gone": {"version": 3}}).to_string()).unwrap();

        let store = store(&path);
        let loaded = store.load_versioned("org".into()).unwrap();
        assert_eq!(loaded.version, 7);
        assert_eq!(loaded.token.unwrap().token.access_token, Secret::new("a"));
        assert_eq!(store.load_versioned("gone".into()).unwrap(), VersionedToken { token: None, version: 3 });
        #[cfg(unix)]
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(names(&dir), ["old.json", "old.json.lock", "tokens.json", "tokens.json.lock"]);

        fs::remove_dir_all(&path).unwrap();
        fs::write(&path, r#"{"org": {"access_token": "QUOTE-ME-NOT", "version": "x"}}"#).unwrap();
        let store = self::store(&path);
        assert_eq!(store.load_versioned("org".into()).unwrap().token, None);
        assert_eq!(names(&dir).iter().filter(|name| name.starts_with("tokens.json.corrupt-")).count(), 1);
        fs::remove_dir_all(dir).unwrap();
    }

    /// A save rewrites its org's file alone, whatever the number of orgs.
    #[test]
    #[cfg(unix)]
    fn a_save_touches_one_org() {
        let dir = dir();
        let store = store(&dir.join("tokens.json"));
        for org in 0..50 {
            assert!(store.save_if_version(format!("org-{org}"), token("a"), 0).unwrap());
        }
        let inode = |org: &str| fs::metadata(dir.join("tokens.json").join(record_name(org, "json"))).unwrap().ino();
        let before: Vec<u64> = (0..50).map(|org| inode(&format!("org-{org}"))).collect();
        assert!(store.save_if_version("org-7".into(), token("b"), 1).unwrap());
        let after: Vec<u64> = (0..50).map(|org| inode(&format!("org-{org}"))).collect();
        let changed: Vec<usize> = (0..50).filter(|&org| before[org] != after[org]).collect();
        assert_eq!(changed, [7]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    #[cfg(unix)]
    fn records_are_0600_whatever_they_were_before() {
        let dir = dir();
        let store = store(&dir.join("tokens.json"));
        assert!(store.save_if_version("org".into(), token("a"), 0).unwrap());
        let record = dir.join("tokens.json").join(record_name("org", "json"));
        fs::set_permissions(&record, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(store.save_if_version("org".into(), token("b"), 1).unwrap());
        assert_eq!(fs::metadata(&record).unwrap().permissions().mode() & 0o777, 0o600);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    #[cfg(unix)]
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
    #[cfg(unix)]
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
