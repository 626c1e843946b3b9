//! How a TokenManager decides a token needs renewing, and the bounds on it.

use std::time::Duration;

use crate::CoboOAuthError;

/// Defaults match the UDL's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenManagerConfig {
    pub refresh_margin_secs: u64,
    pub refresh_token_lifetime_secs: u64,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    pub lease_ttl_ms: u64,
}

impl Default for TokenManagerConfig {
    fn default() -> Self {
        TokenManagerConfig {
            refresh_margin_secs: 300,
            refresh_token_lifetime_secs: 30 * 24 * 3600,
            backoff_initial_ms: 1_000,
            backoff_max_ms: 60_000,
            lease_ttl_ms: 10_000,
        }
    }
}

/// Past a century a lifetime is a mistake, and some languages' dates would overflow.
const MAX_LIFETIME_SECS: u64 = 100 * 365 * 24 * 3600;
const MAX_BACKOFF_MS: u64 = 3600 * 1000;
/// A shorter lease could lapse between two heartbeats on a busy host.
const MIN_LEASE_TTL_MS: u64 = 300;

impl TokenManagerConfig {
    pub(super) fn check(&self) -> Result<(), CoboOAuthError> {
        let invalid = |reason: &str| Err(CoboOAuthError::InvalidArgument { reason: reason.into() });
        if self.refresh_token_lifetime_secs > MAX_LIFETIME_SECS {
            return invalid("refresh_token_lifetime_secs must be at most 100 years");
        }
        if self.refresh_margin_secs > self.refresh_token_lifetime_secs {
            return invalid("refresh_margin_secs must not exceed refresh_token_lifetime_secs");
        }
        if self.backoff_initial_ms == 0 || self.backoff_initial_ms > self.backoff_max_ms {
            return invalid("backoff_initial_ms must be positive and at most backoff_max_ms");
        }
        if self.backoff_max_ms > MAX_BACKOFF_MS {
            return invalid("backoff_max_ms must be at most an hour");
        }
        if !(MIN_LEASE_TTL_MS..=MAX_BACKOFF_MS).contains(&self.lease_ttl_ms) {
            return invalid("lease_ttl_ms must be between 300 ms and an hour");
        }
        Ok(())
    }

    pub(super) fn margin(&self) -> Duration {
        Duration::from_secs(self.refresh_margin_secs)
    }

    /// Exponential from `backoff_initial_ms`, capped, with equal jitter.
    pub(super) fn backoff(&self, failures: u32) -> Duration {
        let doubled = self.backoff_initial_ms.saturating_mul(1u64.checked_shl(failures.saturating_sub(1)).unwrap_or(u64::MAX));
        crate::util::random::equal_jitter(Duration::from_millis(doubled.min(self.backoff_max_ms)))
    }
}
