//! A token as stores hold it (`StoredToken`), and as the file and Redis stores write
//! it (`Record`: JSON, times as Unix milliseconds, then sealed).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::{OrgToken, Secret};

/// The last token issued for an organization, and when its refresh token expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub token: OrgToken,
    pub refresh_expires_at: SystemTime,
    /// Written to a shared store before the refresh token is presented: see the UDL.
    pub refresh_in_flight: bool,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Record {
    access_token: String,
    token_type: String,
    scope: String,
    expires_in: i64,
    refresh_token: String,
    expires_at_ms: u64,
    refresh_expires_at_ms: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    refresh_in_flight: bool,
}

impl Record {
    pub(crate) fn from_stored(stored: &StoredToken) -> Self {
        let token = &stored.token;
        Record {
            access_token: token.access_token.expose().to_owned(),
            token_type: token.token_type.clone(),
            scope: token.scope.clone(),
            expires_in: token.expires_in,
            refresh_token: token.refresh_token.expose().to_owned(),
            expires_at_ms: to_ms(token.expires_at),
            refresh_expires_at_ms: to_ms(stored.refresh_expires_at),
            refresh_in_flight: stored.refresh_in_flight,
        }
    }

    pub(crate) fn into_stored(mut self) -> StoredToken {
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
            refresh_in_flight: self.refresh_in_flight,
        }
    }

    /// Milliseconds from now until the refresh token expires (at least 1): how long a
    /// record is worth keeping (the Redis key's expiry).
    #[cfg(feature = "redis")]
    pub(crate) fn ttl_ms(&self) -> u64 {
        self.refresh_expires_at_ms.saturating_sub(to_ms(SystemTime::now())).max(1)
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        self.access_token.zeroize();
        self.refresh_token.zeroize();
    }
}

fn to_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH.checked_add(Duration::from_millis(ms)).unwrap_or(UNIX_EPOCH)
}
