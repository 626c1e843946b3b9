//! Tokens at rest: the file and Redis stores seal each record, so a backup, a replica or
//! a copied file holds no usable token.
//!
//! - Cipher: XChaCha20-Poly1305, a random 24-byte nonce per record (random nonces of
//!   that length never collide in practice, whatever the number of records).
//! - Key: HKDF-SHA256 of the app's private key (every process of the app holds it) or of
//!   32 bytes the app gives, under the info label below. A new label is a new key.
//! - Associated data: the label, the store's key prefix and the org id, so a record
//!   copied to another org's key, or another prefix, does not open.
//! - Sealed form: one format byte (1), the nonce, the ciphertext and its tag.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use once_cell::sync::OnceCell;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::record::{Record, StoredToken};
use crate::logging::events;
use crate::util::lock::lock;
use crate::{AppKey, CoboOAuthError};

/// The first part of every record's associated data, and of the HKDF info labels: one
/// for keys derived from the app key, one for keys the app gives.
const LABEL: &[u8] = b"cobo-oauth/token-store/v1";
const FROM_APP_KEY: &[u8] = b"cobo-oauth/token-store/v1/app-key";
const FROM_BYTES: &[u8] = b"cobo-oauth/token-store/v1/store-key";
const FORMAT: u8 = 1;
const NONCE: usize = 24;

/// The key the token stores seal records with. `Debug` shows nothing of it; it is wiped
/// on drop.
pub struct StoreKey {
    key: Zeroizing<[u8; 32]>,
    /// Orgs whose record did not open, logged once each.
    unopened: Mutex<HashSet<String>>,
}

/// What a store read back: a token, or a record that is not sealed (written in clear
/// text by a version before sealing) to be read as JSON and sealed again.
pub(crate) enum Opened {
    Token(StoredToken),
    NotSealed,
    /// Sealed under another key, or for another org or prefix: counts as missing.
    Unopened,
}

impl Opened {
    /// The token, if it opened: a record not sealed where a sealed one belongs counts as
    /// missing too.
    pub(crate) fn token(self) -> Option<StoredToken> {
        match self {
            Opened::Token(token) => Some(token),
            Opened::NotSealed | Opened::Unopened => None,
        }
    }
}

impl StoreKey {
    /// Derived from the app key: what the file and Redis stores use unless given a key.
    pub fn from_app_key(app_key: Arc<AppKey>) -> Self {
        Self::derive(app_key.seed(), FROM_APP_KEY)
    }

    /// Derived from 32 bytes the app keeps apart from its app key (a secret manager).
    pub fn from_bytes(key: Vec<u8>) -> Result<Self, CoboOAuthError> {
        let mut key = key;
        let derived = match <&[u8; 32]>::try_from(key.as_slice()) {
            Ok(bytes) => Ok(Self::derive(bytes, FROM_BYTES)),
            Err(_) => Err(CoboOAuthError::InvalidArgument { reason: format!("a store key is 32 bytes, got {}", key.len()) }),
        };
        key.zeroize();
        derived
    }

    fn derive(material: &[u8; 32], label: &[u8]) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit (8,160): expand cannot fail.
        let _ = Hkdf::<Sha256>::new(None, material).expand(label, key.as_mut());
        StoreKey { key, unopened: Mutex::default() }
    }

    /// The token sealed for `org_id`, for a store of your own (a SQL column, say).
    pub fn seal(&self, org_id: String, token: StoredToken) -> Result<Vec<u8>, CoboOAuthError> {
        self.seal_record("", &org_id, &Record::from_stored(&token))
    }

    /// The token `seal` sealed for `org_id`; None if it does not open (sealed under
    /// another key or for another org): treat it as missing. Logged once per org.
    pub fn open(&self, org_id: String, sealed: Vec<u8>) -> Result<Option<StoredToken>, CoboOAuthError> {
        match self.open_record("", &org_id, &sealed) {
            Opened::Token(token) => Ok(Some(token)),
            Opened::Unopened => Ok(None),
            Opened::NotSealed => {
                Err(CoboOAuthError::InvalidArgument { reason: "not a token sealed by StoreKey.seal".into() })
            }
        }
    }

    pub(crate) fn seal_record(&self, prefix: &str, org_id: &str, record: &Record) -> Result<Vec<u8>, CoboOAuthError> {
        let mut json = serde_json::to_vec(record).map_err(|e| CoboOAuthError::Store { reason: format!("cannot encode a token: {e}") })?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self.cipher().encrypt(&nonce, Payload { msg: &json, aad: &associated_data(prefix, org_id) });
        json.zeroize();
        let ciphertext = sealed.map_err(|_| CoboOAuthError::Store { reason: "cannot seal a token".into() })?;
        let mut out = Vec::with_capacity(1 + NONCE + ciphertext.len());
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// A sealed record, or `NotSealed` for the clear-text JSON older versions wrote.
    pub(crate) fn open_record(&self, prefix: &str, org_id: &str, sealed: &[u8]) -> Opened {
        if sealed.first() != Some(&FORMAT) || sealed.len() < 1 + NONCE {
            return Opened::NotSealed;
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE);
        let opened = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &associated_data(prefix, org_id) })
            .ok()
            .and_then(|mut json| {
                let record = serde_json::from_slice::<Record>(&json).ok();
                json.zeroize();
                record
            });
        match opened {
            Some(record) => Opened::Token(record.into_stored()),
            None => {
                if lock(&self.unopened).insert(org_id.to_owned()) {
                    events::record_unopened(org_id);
                }
                Opened::Unopened
            }
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.key).into())
    }
}

/// The key a built-in store seals with: the one it was built with, or else the app key
/// of the first TokenManager it is given to (`CoordinatedTokenStore::offer_store_key`).
#[derive(Default)]
pub(crate) struct KeySlot(OnceCell<Arc<StoreKey>>);

impl KeySlot {
    pub(crate) fn new(key: Option<Arc<StoreKey>>) -> Self {
        KeySlot(key.map(OnceCell::with_value).unwrap_or_default())
    }

    pub(crate) fn offer(&self, key: Arc<StoreKey>) {
        let _ = self.0.set(key);
    }

    /// Its key, if it has one yet: a store used before any manager has none.
    pub(crate) fn get(&self) -> Result<&StoreKey, CoboOAuthError> {
        self.0.get().map(|key| &**key).ok_or_else(|| CoboOAuthError::Store {
            reason: "this store seals tokens with a key it learns from the TokenManager it is given: \
                     give it to one first, or build it with a store key"
                .into(),
        })
    }
}

fn associated_data(prefix: &str, org_id: &str) -> Vec<u8> {
    [LABEL, b"\0", prefix.as_bytes(), b"\0", org_id.as_bytes()].concat()
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OrgToken, Secret};
    use std::time::{Duration, SystemTime};

    fn token() -> StoredToken {
        let later = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let token = OrgToken {
            access_token: Secret::new("AT-0123456789abcdef"),
            token_type: "Bearer".into(),
            scope: String::new(),
            expires_in: 3600,
            refresh_token: Secret::new("RT-0123456789abcdef"),
            expires_at: later,
        };
        StoredToken { token, refresh_expires_at: later, refresh_in_flight: true }
    }

    fn key(byte: u8) -> StoreKey {
        StoreKey::from_bytes(vec![byte; 32]).unwrap()
    }

    #[test]
    fn a_sealed_token_opens_for_its_org_and_prefix_only() {
        let sealed = key(1).seal_record("app:", "org", &Record::from_stored(&token())).unwrap();
        assert!(matches!(key(1).open_record("app:", "org", &sealed), Opened::Token(t) if t == token()));
        assert!(matches!(key(1).open_record("app:", "other-org", &sealed), Opened::Unopened));
        assert!(matches!(key(1).open_record("other:", "org", &sealed), Opened::Unopened));
        assert!(matches!(key(2).open_record("app:", "org", &sealed), Opened::Unopened));
        assert!(matches!(key(1).open_record("app:", "org", b"{\"access_token\": 1}"), Opened::NotSealed));
    }

    #[test]
    fn sealing_twice_gives_different_bytes_and_no_token_text() {
        let (a, b) = (key(1).seal("org".into(), token()).unwrap(), key(1).seal("org".into(), token()).unwrap());
        assert_ne!(a, b, "a fresh nonce per record");
        assert!(!a.windows(9).any(|w| w == b"123456789"), "no part of a token");
        assert_eq!(key(1).open("org".into(), a).unwrap(), Some(token()));
    }

    #[test]
    fn a_store_key_is_32_bytes_and_never_shown() {
        assert!(matches!(StoreKey::from_bytes(vec![0; 31]), Err(CoboOAuthError::InvalidArgument { .. })));
        assert_eq!(format!("{:?}", key(7)), "StoreKey(…)");
        assert!(matches!(key(1).open("org".into(), b"{}".to_vec()), Err(CoboOAuthError::InvalidArgument { .. })));
    }

    #[test]
    fn the_app_keys_store_key_opens_what_it_sealed_and_no_given_key_does() {
        let app = Arc::new(AppKey::new(Secret::new("11".repeat(32))).unwrap());
        let sealed = StoreKey::from_app_key(Arc::clone(&app)).seal("org".into(), token()).unwrap();
        assert_eq!(StoreKey::from_app_key(app).open("org".into(), sealed.clone()).unwrap(), Some(token()));
        assert_eq!(key(0x11).open("org".into(), sealed).unwrap(), None, "keys given and derived never coincide");
    }
}
