//! Hex, randomness and Cobo's signature primitives, as small as the mock needs them.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    out
}

/// Decodes hex of either case; `None` for odd lengths or non-hex characters.
pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let s = s.as_bytes();
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

pub(crate) fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    hex_decode(s)?.try_into().ok()
}

/// SHA-256(SHA-256(data)): what every Cobo signature signs.
pub(crate) fn double_sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(data)).into()
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn os_random32() -> io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(seed)
}

/// Lower-case hex of a valid Ed25519 public key, or `None`: apps are stored normalized
/// so a key compares equal whatever case the client sends.
pub(crate) fn normalize_api_key(hex: &str) -> Option<String> {
    let bytes: [u8; 32] = hex_array(hex.trim())?;
    VerifyingKey::from_bytes(&bytes).ok()?;
    Some(hex_encode(&bytes))
}

/// Checks a CoboAuth request signature: Ed25519 over the double SHA-256 of `content`.
pub(crate) fn verify_request(api_key_hex: &str, content: &[u8], signature_hex: &str) -> bool {
    let (Some(key), Some(sig)) = (
        hex_array::<32>(api_key_hex),
        hex_array::<64>(signature_hex.trim()),
    ) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&key) else {
        return false;
    };
    key.verify(&double_sha256(content), &Signature::from_bytes(&sig))
        .is_ok()
}

/// A counter-mode SHA-256 generator seeded once from the OS: tokens and error ids are
/// unguessable without opening /dev/urandom on every request.
pub(crate) struct Rng {
    seed: [u8; 32],
    counter: AtomicU64,
}

impl Rng {
    pub(crate) fn from_os() -> io::Result<Rng> {
        Ok(Rng {
            seed: os_random32()?,
            counter: AtomicU64::new(0),
        })
    }

    pub(crate) fn block(&self) -> [u8; 32] {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(n.to_le_bytes());
        h.finalize().into()
    }

    /// A 64-character alphanumeric token, like Cobo's opaque tokens.
    pub(crate) fn token(&self) -> String {
        const ALPHABET: &[u8; 62] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut out = String::with_capacity(64);
        while out.len() < 64 {
            // Rejection sampling keeps every character equally likely.
            for b in self.block().into_iter().filter(|b| *b < 248) {
                if out.len() < 64 {
                    out.push(ALPHABET[(b % 62) as usize] as char);
                }
            }
        }
        out
    }

    /// 32 hex characters, the shape of Cobo's `error_id`.
    pub(crate) fn error_id(&self) -> String {
        hex_encode(&self.block()[..16])
    }
}

/// The mock's stand-in for Cobo's response key.
pub(crate) struct ResponseSigner {
    key: SigningKey,
}

impl ResponseSigner {
    pub(crate) fn new(seed: [u8; 32]) -> ResponseSigner {
        ResponseSigner {
            key: SigningKey::from_bytes(&seed),
        }
    }

    pub(crate) fn public_key_hex(&self) -> String {
        hex_encode(self.key.verifying_key().as_bytes())
    }

    /// `Biz-Resp-Signature` for `body` sent with `Biz-Timestamp: timestamp`.
    pub(crate) fn sign(&self, body: &[u8], timestamp: &str) -> String {
        let mut message = Vec::with_capacity(body.len() + 1 + timestamp.len());
        message.extend_from_slice(body);
        message.push(b'|');
        message.extend_from_slice(timestamp.as_bytes());
        hex_encode(&self.key.sign(&double_sha256(&message)).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        assert_eq!(hex_encode(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(hex_decode("00ABff"), Some(vec![0x00, 0xab, 0xff]));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
        assert_eq!(hex_array::<2>("00ab00"), None);
    }

    #[test]
    fn tokens_are_64_alphanumeric_and_distinct() {
        let rng = Rng::from_os().unwrap();
        let (a, b) = (rng.token(), rng.token());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(rng.error_id().len(), 32);
    }
}
