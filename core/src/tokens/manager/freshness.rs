//! How usable a token is, from its expiry alone (google-auth's FRESH / STALE / EXPIRED).

use std::time::{Duration, SystemTime};

use crate::tokens::store::StoredToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Freshness {
    /// Outside the refresh margin: served as it is.
    Fresh,
    /// Inside the margin, not expired: served while one caller renews it.
    Stale,
    /// Expired, or no token: callers wait for a renewal.
    Expired,
}

pub(super) fn freshness(token: Option<&StoredToken>, margin: Duration, now: SystemTime) -> Freshness {
    let left = token.and_then(|stored| stored.token.expires_at.duration_since(now).ok()).unwrap_or_default();
    if left.is_zero() {
        Freshness::Expired
    } else if left > margin {
        Freshness::Fresh
    } else {
        Freshness::Stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OrgToken, Secret};

    fn expiring_in(secs: u64, now: SystemTime) -> StoredToken {
        let token = OrgToken {
            access_token: Secret::new("a"),
            token_type: "Bearer".into(),
            scope: String::new(),
            expires_in: 0,
            refresh_token: Secret::new("r"),
            expires_at: now + Duration::from_secs(secs),
        };
        StoredToken { token, refresh_expires_at: now, refresh_in_flight: false }
    }

    #[test]
    fn the_margin_splits_fresh_from_stale() {
        let now = SystemTime::now();
        let margin = Duration::from_secs(300);
        assert_eq!(freshness(None, margin, now), Freshness::Expired);
        assert_eq!(freshness(Some(&expiring_in(0, now)), margin, now), Freshness::Expired);
        assert_eq!(freshness(Some(&expiring_in(300, now)), margin, now), Freshness::Stale);
        assert_eq!(freshness(Some(&expiring_in(301, now)), margin, now), Freshness::Fresh);
    }
}
