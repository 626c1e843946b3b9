//! Many hosts: one Redis shared by every replica.
//!
//! - The record is a hash `<prefix>token:<org>` with `version` and `token` (sealed:
//!   sealing.rs), changed only by Lua compare-and-set; it expires with the refresh
//!   token. A `token` in clear-text JSON, as versions before sealing wrote it, is read
//!   and sealed in place.
//! - The lease is `SET <prefix>lease:<org> <owner> NX PX <ttl>`, extended and released
//!   by Lua scripts that compare the owner, so nobody releases someone else's lease.
//! - A failover can grant a lease twice; the compare-and-set still keeps the record
//!   from going backwards.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{Commands, Connection, Script};
use zeroize::Zeroize;

use super::record::Record;
use super::sealing::{KeySlot, StoreKey};
use super::coordinated::coordinated_token_store;
use super::traits::{CoordinatedTokenStore, StoredToken, TokenStore, VersionedToken};
use crate::util::fork_local::ForkLocal;
use crate::util::lock::lock;
use crate::{CoboOAuthError, Secret};

const SAVE_IF_VERSION: &str = r"
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', version + 1, 'token', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1";

/// Seals a clear-text record in place if it is still the one read; the version stays,
/// since the token did not change.
const RESEAL: &str = r"
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then redis.call('HSET', KEYS[1], 'token', ARGV[2]) end
return 1";

const DELETE: &str = r"
if redis.call('HDEL', KEYS[1], 'token') == 1 then redis.call('HINCRBY', KEYS[1], 'version', 1) end
return 1";

const EXTEND: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// Connections kept open per process: renewals of this many orgs at once.
const MAX_IDLE: usize = 8;

/// A TokenStore in Redis (`redis://` or `rediss://`, user and password from the URL),
/// shared by every process and host of one app. Keys start with `key_prefix`;
/// `timeout_ms` bounds connecting and each command. Records are sealed with `store_key`,
/// or else with the key of the first TokenManager's app. Connects on first use.
pub fn redis_token_store(
    url: Secret,
    key_prefix: String,
    timeout_ms: u64,
    store_key: Option<Arc<StoreKey>>,
) -> Result<Arc<dyn TokenStore>, CoboOAuthError> {
    let invalid = |reason: &str| CoboOAuthError::InvalidArgument { reason: reason.into() };
    if timeout_ms == 0 || timeout_ms > 60_000 {
        return Err(invalid("timeout_ms must be between 1 and 60000"));
    }
    // The parser's message may quote the URL, which can hold a password.
    let client = redis::Client::open(url.expose()).map_err(|_| invalid("not a redis:// or rediss:// URL"))?;
    let password = client.get_connection_info().redis.password.clone().map(Secret::new);
    Ok(coordinated_token_store(Arc::new(RedisStore {
        client,
        password,
        prefix: key_prefix,
        timeout: Duration::from_millis(timeout_ms),
        idle: ForkLocal::new(Mutex::default(), |_| Mutex::default()),
        key: KeySlot::new(store_key),
        scripts: Scripts {
            save_if_version: Script::new(SAVE_IF_VERSION),
            reseal: Script::new(RESEAL),
            delete: Script::new(DELETE),
            extend: Script::new(EXTEND),
            release: Script::new(RELEASE),
        },
    })))
}

struct RedisStore {
    client: redis::Client,
    password: Option<Secret>,
    prefix: String,
    timeout: Duration,
    /// Connections no command is using: a command takes one (or opens one) and puts
    /// it back when it succeeds, so a slow Redis holds each caller for its own command
    /// only. A forked child opens its own (a socket shared with the parent would mix
    /// replies).
    idle: ForkLocal<Mutex<Vec<Connection>>>,
    key: KeySlot,
    scripts: Scripts,
}

struct Scripts {
    save_if_version: Script,
    reseal: Script,
    delete: Script,
    extend: Script,
    release: Script,
}

impl RedisStore {
    fn key(&self, kind: &str, org_id: &str) -> String {
        format!("{}{kind}:{org_id}", self.prefix)
    }

    /// Runs `command` on an idle connection, or a new one; a failed one is dropped, so
    /// the next call reconnects (a Redis that restarted is used again).
    fn run<T>(&self, what: &str, command: impl FnOnce(&mut Connection) -> redis::RedisResult<T>) -> Result<T, CoboOAuthError> {
        let idle = lock(self.idle.get()).pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => self.connect().map_err(|e| self.error("cannot connect", &e))?,
        };
        let result = command(&mut connection).map_err(|e| self.error(what, &e))?;
        let mut idle = lock(self.idle.get());
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
        Ok(result)
    }

    fn connect(&self) -> redis::RedisResult<Connection> {
        let connection = self.client.get_connection_with_timeout(self.timeout)?;
        connection.set_read_timeout(Some(self.timeout))?;
        connection.set_write_timeout(Some(self.timeout))?;
        Ok(connection)
    }

    /// The token in a record's `token` field: sealed, or clear text (then sealed in place).
    /// One that does not open counts as missing.
    fn open(&self, key: &str, org_id: &str, stored: &[u8]) -> Result<Option<StoredToken>, CoboOAuthError> {
        if stored.first() != Some(&b'{') {
            return Ok(self.key.get()?.open_record(&self.prefix, org_id, stored).token());
        }
        let record = serde_json::from_slice::<Record>(stored)
            .map_err(|_| CoboOAuthError::Store { reason: format!("redis key {key} holds no token record") })?;
        if let Ok(sealing) = self.key.get() {
            // Best effort: the token was read; the next save seals it anyway.
            let _ = sealing.seal_record(&self.prefix, org_id, &record).and_then(|sealed| {
                self.run("reseal", |con| self.scripts.reseal.key(key).arg(stored).arg(&sealed).invoke::<i64>(con))
            });
        }
        Ok(Some(record.into_stored()))
    }

    fn error(&self, what: &str, err: &redis::RedisError) -> CoboOAuthError {
        let mut reason = format!("redis {what}: {err}");
        if let Some(password) = self.password.as_ref().filter(|p| !p.expose().is_empty()) {
            reason = reason.replace(password.expose(), "***");
        }
        CoboOAuthError::Store { reason }
    }
}

impl CoordinatedTokenStore for RedisStore {
    fn load_versioned(&self, org_id: String) -> Result<VersionedToken, CoboOAuthError> {
        let key = self.key("token", &org_id);
        let (version, stored): (Option<u64>, Option<Vec<u8>>) = self.run("load", |con| con.hget(&key, &["version", "token"]))?;
        let token = match stored {
            Some(mut stored) => {
                let token = self.open(&key, &org_id, &stored);
                stored.zeroize();
                token?
            }
            None => None,
        };
        Ok(VersionedToken { token, version: version.unwrap_or(0) })
    }

    fn save_if_version(&self, org_id: String, token: StoredToken, expected_version: u64) -> Result<bool, CoboOAuthError> {
        let record = Record::from_stored(&token);
        let sealed = self.key.get()?.seal_record(&self.prefix, &org_id, &record)?;
        let saved: i64 = self.run("save", |con| {
            self.scripts
                .save_if_version
                .key(self.key("token", &org_id))
                .arg(expected_version)
                .arg(&sealed)
                .arg(record.ttl_ms())
                .invoke(con)
        })?;
        Ok(saved == 1)
    }

    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        self.run("delete", |con| self.scripts.delete.key(self.key("token", &org_id)).invoke::<i64>(con)).map(drop)
    }

    fn acquire_lease(&self, org_id: String, owner: String, ttl_ms: u64) -> Result<bool, CoboOAuthError> {
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(ttl_ms));
        let set: Option<String> = self.run("lease", |con| con.set_options(self.key("lease", &org_id), owner, options))?;
        Ok(set.is_some())
    }

    fn extend_lease(&self, org_id: String, owner: String, ttl_ms: u64) -> Result<bool, CoboOAuthError> {
        let extended: i64 =
            self.run("extend lease", |con| self.scripts.extend.key(self.key("lease", &org_id)).arg(owner).arg(ttl_ms).invoke(con))?;
        Ok(extended == 1)
    }

    fn release_lease(&self, org_id: String, owner: String) -> Result<(), CoboOAuthError> {
        self.run("release lease", |con| self.scripts.release.key(self.key("lease", &org_id)).arg(owner).invoke::<i64>(con))
            .map(drop)
    }

    fn offer_store_key(&self, key: Arc<StoreKey>) {
        self.key.offer(key);
    }
}
