//! CoboAuth request signing: canonical content, double SHA-256, Ed25519, nonces.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use once_cell::sync::Lazy;
use sha2::{Digest, Sha256};

use crate::fork::{inherit_unlocked, ForkLocal};
use crate::keys::AppKey;
use crate::{hex, Secret};

/// The CoboAuth headers for one request, and what was signed (`content` may hold a
/// refresh token, so it is a `Secret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub api_key: String,
    pub nonce: String,
    pub signature: String,
    pub content: Secret,
    pub digest: String,
}

/// `METHOD|PATH|nonce|QUERY|BODY`, the string CoboAuth signs.
pub fn canonical_content(method: String, path: String, nonce: String, query: String, body: String) -> String {
    [method.to_ascii_uppercase().as_str(), &path, &nonce, &query, &body].join("|")
}

/// SHA-256(SHA-256(content)) as hex.
pub fn content_digest(content: String) -> String {
    hex::encode(&double_sha256(content.as_bytes()))
}

pub(crate) fn double_sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(bytes)).into()
}

pub(crate) fn sign(key: &AppKey, method: &str, path: &str, query: &str, body: &str, nonce: String) -> SignedRequest {
    // HTTP sends methods in upper case; a lowercase one signed as is never verifies.
    let method = method.to_ascii_uppercase();
    let content = [method.as_str(), path, &nonce, query, body].join("|");
    let digest = double_sha256(content.as_bytes());
    SignedRequest {
        api_key: key.api_key_hex().to_owned(),
        signature: hex::encode(&key.sign_digest(&digest)),
        digest: hex::encode(&digest),
        nonce,
        content: Secret::new(content),
    }
}

/// Hands out nonces for one API key. Cobo rejects a reused nonce per key, so a nonce
/// is the current Unix time in milliseconds, bumped past the last one handed out:
/// strictly increasing across threads and within one millisecond. (Above 1000
/// signatures per second, sustained, nonces run ahead of the clock.) When the clock
/// steps back by more than `CLOCK_STEP_MS` (an NTP correction), nonces follow it back:
/// staying ahead would put every nonce outside Cobo's window until the clock caught up.
#[derive(Debug, Default)]
pub(crate) struct NonceClock {
    last: AtomicU64,
    /// The clock's previous reading, to tell a step back from running ahead.
    reading: AtomicU64,
}

const CLOCK_STEP_MS: u64 = 2_000;

impl NonceClock {
    /// The clock of `api_key`, shared by every `AppKey` of that key in this process.
    pub(crate) fn for_key(api_key: &str) -> Arc<NonceClock> {
        type Clocks = Mutex<HashMap<String, Arc<NonceClock>>>;
        static CLOCKS: Lazy<ForkLocal<Clocks>> = Lazy::new(|| ForkLocal::new(Default::default(), inherit_unlocked));
        let mut clocks = crate::sync::lock(CLOCKS.get());
        clocks.entry(api_key.to_owned()).or_default().clone()
    }

    pub(crate) fn next(&self) -> u64 {
        self.next_at(now_ms())
    }

    fn next_at(&self, now: u64) -> u64 {
        let previous = self.reading.swap(now, Ordering::AcqRel);
        let stepped_back = previous > now.saturating_add(CLOCK_STEP_MS);
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = if stepped_back { now } else { now.max(last.saturating_add(1)) };
            match self.last.compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_strictly_increase_across_threads() {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let clock = NonceClock::for_key("same key, separate lookups");
                std::thread::spawn(move || (0..2000).map(|_| clock.next()).collect::<Vec<_>>())
            })
            .collect();
        let mut all = Vec::new();
        for handle in handles {
            let nonces = handle.join().unwrap();
            assert!(nonces.windows(2).all(|w| w[0] < w[1]), "per-thread order");
            all.extend(nonces);
        }
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "no nonce handed out twice");
    }

    #[test]
    fn nonces_follow_the_clock_back_after_a_step() {
        let clock = NonceClock::default();
        assert_eq!(clock.next_at(100_000), 100_000);
        // Running ahead of the clock within a millisecond is fine...
        assert_eq!(clock.next_at(100_000), 100_001);
        assert_eq!(clock.next_at(99_500), 100_002, "small jitter: stay strictly increasing");
        // ...but a step back of minutes (NTP) returns to the clock.
        assert_eq!(clock.next_at(40_000), 40_000);
        assert_eq!(clock.next_at(40_000), 40_001);
    }

    #[test]
    fn methods_are_signed_in_upper_case() {
        let key = AppKey::parse(&"07".repeat(32)).unwrap();
        let lower = sign(&key, "get", "/v2/x", "", "", "1".into());
        let upper = sign(&key, "GET", "/v2/x", "", "", "1".into());
        assert_eq!(lower.signature, upper.signature);
        assert!(lower.content.expose().starts_with("GET|"));
    }
}
