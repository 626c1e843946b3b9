//! One renewal, with the store and the client only: lease → adopt → fence → exchange →
//! compare-and-set. Every store write of a renewal happens here, under the org's lease.

use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::config::TokenManagerConfig;
use super::lease::RenewalLease;
use super::store_calls::{self, guarded, scrubbed};
use crate::http::client::Deadline;
use crate::logging::events::{self, Operation};
use crate::tokens::store::{CoordinatedTokenStore, StoredToken, VersionedToken};
use crate::{CoboOAuthError, OAuthClient};

/// How often a process waiting for another's lease re-reads the store: from the first
/// to the last pause, doubling, jittered.
const LEASE_POLL: (Duration, Duration) = (Duration::from_millis(20), Duration::from_millis(320));
/// How a failed save of a rotated token is retried until the deadline: from the first
/// to the last pause, doubling, jittered.
const SAVE_RETRY: (Duration, Duration) = (Duration::from_millis(50), Duration::from_millis(1_000));

/// What this process holds for an org when a flight starts: what a renewal starts from.
pub(super) struct Held {
    pub(super) token: Option<StoredToken>,
    /// The store's version of `token`: a store found below it was rolled back.
    pub(super) version: u64,
    /// The store failed to save `token`, so the store's refresh token is older.
    pub(super) unsaved: bool,
}

/// How a renewal (or a save) ended; the store has been written already.
pub(super) enum Outcome {
    /// The org's token is `token`, at `version` in the store; `saved` says whether the
    /// store has it. `issued`: the grant Cobo just issued it by (None: another process
    /// renewed it and this one adopted it, or it was saved again).
    Token { token: StoredToken, version: u64, saved: Result<(), CoboOAuthError>, issued: Option<Operation> },
    /// Cobo refused every grant: the org's tokens are dead and deleted, at this version.
    Revoked(CoboOAuthError, u64),
    /// The stored tokens stay as they are.
    Failed(CoboOAuthError),
}

fn adopted(token: StoredToken, version: u64) -> Outcome {
    Outcome::Token { token, version, saved: Ok(()), issued: None }
}

/// What a renewal of one org works with.
pub(super) struct Renewal<'a> {
    pub(super) store: &'a dyn CoordinatedTokenStore,
    /// Whether the store coordinates processes (else its lease is a formality and its
    /// versions stay 0).
    pub(super) coordinated: bool,
    pub(super) client: &'a OAuthClient,
    pub(super) client_id: &'a str,
    pub(super) config: &'a TokenManagerConfig,
    pub(super) org_id: &'a str,
    pub(super) deadline: Deadline,
}

impl Renewal<'_> {
    /// Renews from what this process holds. `held.version` is the version of its token
    /// it knows: a store found below it was rolled back (a restored backup, a lagging
    /// replica), and its refresh token may be one this process has spent already.
    pub(super) fn renew(&self, held: Held) -> Outcome {
        let (lease, record) = match self.take_lease(&held) {
            Ok(taken) => taken,
            Err(outcome) => return outcome,
        };
        let rolled_back = self.rolled_back(&record, held.version) && held.token.is_some();
        if rolled_back {
            events::rolled_back(self.org_id, record.version, held.version);
        }
        // The stored refresh token is the newest, unless this process failed to save
        // its own or the store went back to an older one.
        let newest = if held.unsaved || rolled_back { held.token } else { record.token.or(held.token) };
        let mut version = record.version;
        lease.kept_alive(|| {
            let refresh = match self.fence(newest, &lease, &mut version) {
                Ok(refresh) => refresh,
                Err(outcome) => return outcome,
            };
            match self.exchange(refresh, version) {
                Ok((token, operation)) => self.save(token, Some(operation), version),
                Err(outcome) => outcome,
            }
        })
    }

    /// Takes the org's lease, re-reading the store while another process holds it;
    /// adopts a token renewed elsewhere, before or under the lease.
    fn take_lease(&self, held: &Held) -> Result<(RenewalLease<'_>, VersionedToken), Outcome> {
        let mut pause = LEASE_POLL.0;
        loop {
            let lease = RenewalLease::acquire(self.store, self.coordinated, self.org_id, self.config.lease_ttl_ms)
                .map_err(Outcome::Failed)?;
            let record = self.load(held.token.as_ref()).map_err(Outcome::Failed)?;
            // A record older than ours is a rollback, never another process's renewal.
            if let Some(token) = self.renewed_elsewhere(&record, held.token.as_ref()).filter(|_| !self.rolled_back(&record, held.version)) {
                events::adopted(self.org_id);
                return Err(adopted(token, record.version));
            }
            if let Some(lease) = lease {
                return Ok((lease, record));
            }
            if Instant::now() + pause >= self.deadline {
                let reason = "another process held the renewal lease past the deadline".into();
                return Err(Outcome::Failed(CoboOAuthError::Timeout { reason }));
            }
            thread::sleep(crate::util::random::equal_jitter(pause));
            pause = (pause * 2).min(LEASE_POLL.1);
        }
    }

    /// The stored token whose refresh token this renewal may present, or None (then it
    /// asks for a new grant): none, expired, or marked in flight by a renewal that may
    /// have presented it already (a process that died, stalled past its lease, or
    /// failed to save). In a shared store the mark is written first (`version` moves
    /// past it) and the lease confirmed; if either fails, nothing is sent.
    fn fence(&self, newest: Option<StoredToken>, lease: &RenewalLease, version: &mut u64) -> Result<Option<StoredToken>, Outcome> {
        let Some(stored) = newest.filter(|stored| stored.refresh_expires_at > SystemTime::now()) else { return Ok(None) };
        if stored.refresh_in_flight {
            events::refresh_in_flight(self.org_id);
            return Ok(None);
        }
        if !self.coordinated {
            return Ok(Some(stored));
        }
        let marked = StoredToken { refresh_in_flight: true, ..stored.clone() };
        let saved = guarded(|| self.store.save_if_version(self.org_id.to_owned(), marked, *version)).map_err(|err| scrubbed(err, [&stored]));
        match saved {
            Ok(true) => *version += 1,
            Ok(false) => {
                return Err(match self.after_conflict(&stored) {
                    Ok(Ok(theirs)) => theirs,
                    Ok(Err(_)) => Outcome::Failed(CoboOAuthError::Store { reason: "the record changed under the renewal lease".into() }),
                    Err(err) => Outcome::Failed(err),
                })
            }
            Err(err) => {
                events::store_failed(self.org_id, "save", &err);
                return Err(Outcome::Failed(err));
            }
        }
        if !lease.confirm() {
            events::lease_lost(self.org_id);
            let reason = "the renewal lease was lost before the refresh token was sent".into();
            return Err(Outcome::Failed(CoboOAuthError::Store { reason }));
        }
        Ok(Some(stored))
    }

    /// Refreshes with `refresh`'s refresh token (see `fence`), if any. When Cobo refuses
    /// it (spent, expired, revoked, or an answer that is not a token), re-reads: a
    /// different stored token means another process rotated it, and is adopted;
    /// otherwise, or with no refresh token, asks for a new grant once. Both calls share
    /// one deadline. A refused new grant deletes the org's tokens (`version` is the
    /// record's).
    fn exchange(&self, refresh: Option<StoredToken>, version: u64) -> Result<(StoredToken, Operation), Outcome> {
        if let Some(stored) = refresh {
            events::renewal_started(self.org_id, Operation::Refresh);
            let refreshed = self.client.refresh_org_token_by(self.client_id.to_owned(), stored.token.refresh_token.clone(), self.deadline);
            match refreshed {
                Ok(token) => return Ok((self.stored(token), Operation::Refresh)),
                // Only a refusal of the refresh token itself leads to the fallback: a 401
                // (the request's key, signature or nonce) or a 429 says nothing about it.
                Err(err) if transient(&err) || refuses_request(&err) => return Err(Outcome::Failed(err)),
                Err(refused) => {
                    if let Ok(record) = self.load(Some(&stored)) {
                        let rotated = record.token.as_ref().filter(|now| {
                            now.token.refresh_token != stored.token.refresh_token && now.token.expires_at > SystemTime::now()
                        });
                        if let Some(token) = rotated {
                            events::adopted(self.org_id);
                            return Err(adopted(token.clone(), record.version));
                        }
                    }
                    events::fallback(self.org_id, &refused);
                }
            }
        }
        events::renewal_started(self.org_id, Operation::OrgImplicit);
        match self.client.get_org_token_by(self.client_id.to_owned(), self.org_id.to_owned(), self.deadline) {
            Ok(token) => Ok((self.stored(token), Operation::OrgImplicit)),
            Err(CoboOAuthError::OAuth { status, error, error_description }) if revoked(status, &error) => {
                // The tokens are dead either way; a failed delete must not hide why.
                let _ = guarded(|| self.store.delete(self.org_id.to_owned()))
                    .inspect_err(|err| events::store_failed(self.org_id, "delete", err));
                let org_id = self.org_id.to_owned();
                Err(Outcome::Revoked(CoboOAuthError::AuthorizationRequired { org_id, status, error, error_description }, version + 1))
            }
            Err(err) => Err(Outcome::Failed(err)),
        }
    }

    /// Saves `token` if the record is still at `version`. A conflict means the lease was
    /// lost and someone else saved: their token wins while it is valid, so every process
    /// stays on one chain. In a store other processes share, a failed save after a
    /// refresh is retried until the deadline, under the lease: the store still holds
    /// the refresh token Cobo has just spent, which nobody may present again. (`issued`
    /// None: a token an earlier save failed to store, saved again.)
    pub(super) fn save(&self, token: StoredToken, issued: Option<Operation>, version: u64) -> Outcome {
        let mut pause = SAVE_RETRY.0;
        let saved = loop {
            let saved = guarded(|| self.store.save_if_version(self.org_id.to_owned(), token.clone(), version));
            match saved.map_err(|err| scrubbed(err, [&token])) {
                // Only where other processes read the store, and only after a refresh: an
                // org_implicit grant spent nothing the store holds. (A plain store's
                // process keeps the token unsaved and saves it on a later call.)
                Err(err) if self.coordinated && issued == Some(Operation::Refresh) && Instant::now() + pause < self.deadline => {
                    events::store_failed(self.org_id, "save", &err);
                    thread::sleep(crate::util::random::equal_jitter(pause));
                    pause = (pause * 2).min(SAVE_RETRY.1);
                }
                saved => break saved,
            }
        };
        let ours = |version, saved| Outcome::Token { token: token.clone(), version, saved, issued };
        match saved {
            Ok(true) => ours(version + 1, Ok(())),
            Ok(false) => match self.after_conflict(&token) {
                Ok(Ok(theirs)) => theirs,
                Ok(Err(version)) => ours(version, Err(CoboOAuthError::Store { reason: "the save lost a race".into() })),
                Err(err) => ours(version, Err(err)),
            },
            Err(err) => {
                events::store_failed(self.org_id, "save", &err);
                ours(version, Err(err))
            }
        }
    }

    /// After a lost compare-and-set: the token another process saved, adopted if it is
    /// still valid; else the record's version.
    fn after_conflict(&self, ours: &StoredToken) -> Result<Result<Outcome, u64>, CoboOAuthError> {
        events::save_conflict(self.org_id);
        let record = self.load(Some(ours))?;
        Ok(match record.token {
            Some(theirs) if theirs.token.expires_at > SystemTime::now() => Ok(adopted(theirs, record.version)),
            _ => Err(record.version),
        })
    }

    fn load(&self, known: Option<&StoredToken>) -> Result<VersionedToken, CoboOAuthError> {
        store_calls::load(self.store, self.org_id, known)
    }

    /// Whether `record` holds a token another process renewed: fresh, and not the one
    /// this process has (which may have been refused).
    fn renewed_elsewhere(&self, record: &VersionedToken, cached: Option<&StoredToken>) -> Option<StoredToken> {
        let stored = record.token.as_ref()?;
        let fresh = super::freshness::freshness(Some(stored), self.config.margin(), SystemTime::now()) == super::freshness::Freshness::Fresh;
        let ours = cached.is_some_and(|cached| cached.token.access_token == stored.token.access_token);
        (fresh && !ours).then(|| stored.clone())
    }

    /// Whether `record` is older than the version `held` this process knows: a shared
    /// store went back. (A plain store has no versions: its records are all 0.)
    fn rolled_back(&self, record: &VersionedToken, held: u64) -> bool {
        self.coordinated && record.version < held
    }

    fn stored(&self, token: crate::OrgToken) -> StoredToken {
        let lifetime = Duration::from_secs(self.config.refresh_token_lifetime_secs);
        let refresh_expires_at = SystemTime::now().checked_add(lifetime).unwrap_or(token.expires_at);
        StoredToken { token, refresh_expires_at, refresh_in_flight: false }
    }
}

/// Failures that say nothing about the tokens: retrying later may succeed.
pub(super) fn transient(err: &CoboOAuthError) -> bool {
    matches!(
        err,
        CoboOAuthError::Transport { .. }
            | CoboOAuthError::Timeout { .. }
            | CoboOAuthError::Unavailable { .. }
            | CoboOAuthError::Server { .. }
            | CoboOAuthError::Store { .. }
    )
}

/// A refusal of the request rather than of its grant: no token is spent or revoked.
fn refuses_request(err: &CoboOAuthError) -> bool {
    matches!(err, CoboOAuthError::OAuth { status: 401 | 429, .. })
}

/// Whether Cobo's refusal of an org_implicit grant means the org withdrew the app. A
/// wrong key or client_id (401 invalid_client) or a malformed request (400) is the
/// app's own problem: those keep the stored tokens and surface as OAuth errors.
fn revoked(status: u16, error: &str) -> bool {
    status == 403 || matches!(error, "unauthorized_client" | "invalid_grant" | "access_denied")
}
