//! One organization's state in this process, and the one step that decides what a
//! caller does with it.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::config::TokenManagerConfig;
use super::freshness::{freshness, Freshness};
use super::renewal::{Held, Outcome};
use crate::http::client::Deadline;
use crate::logging::events;
use crate::tokens::store::StoredToken;
use crate::{CoboOAuthError, Secret};

/// One organization's state, and the condition its waiters sleep on.
#[derive(Default)]
pub(super) struct Org {
    pub(super) state: Mutex<OrgState>,
    pub(super) renewed: Condvar,
}

#[derive(Default)]
pub(super) struct OrgState {
    /// `None` until the store was read once.
    pub(super) token: Option<Option<StoredToken>>,
    /// The store's version of `token`, for the next compare-and-set save.
    pub(super) version: u64,
    /// The store failed to save `token`: saved again before it is handed out.
    pub(super) unsaved: bool,
    /// `invalidate` came before the store was read: expire this token if loaded.
    pub(super) invalidated: Option<Secret>,
    /// Flights (renewals, saves) started so far; the one in flight, if any, is `started`.
    pub(super) started: u64,
    /// When the flight in progress must have ended.
    pub(super) in_flight: Option<Deadline>,
    /// The outcome of flight number `.0`, for the callers that waited for it.
    pub(super) last: Option<(u64, Result<StoredToken, CoboOAuthError>)>,
    /// The last renewal failed: no new one before `retry_at`.
    pub(super) failure: Option<Failure>,
    /// Async callers waiting for the flight in progress.
    pub(super) subscribers: Vec<Subscriber>,
}

/// A caller waiting without blocking (an async task, an event loop's future): called
/// once with the flight's outcome, outside the org's lock.
pub(super) type Subscriber = Box<dyn FnOnce(Result<StoredToken, CoboOAuthError>) + Send>;

#[derive(Clone)]
pub(super) struct Failure {
    pub(super) error: CoboOAuthError,
    pub(super) failures: u32,
    pub(super) retry_at: Instant,
}

/// What a caller does next.
pub(super) enum Decision {
    /// The store was never read for this org: read it (without the org's lock), then
    /// decide again.
    Load,
    /// Hand this token out.
    Serve(StoredToken),
    /// No valid token, and renewals are backing off after a failure: its error.
    BackingOff(Failure),
    /// Wait for flight number `.0`, in progress.
    Wait(u64),
    /// Start a flight; `served` (still valid) is handed out if it fails transiently.
    Run { job: Job, served: Option<StoredToken> },
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Job {
    /// Renew the org's token.
    Renew,
    /// Store the valid token an earlier save failed to store; hand it out once stored.
    Save,
}

impl OrgState {
    /// The decision, from the token's freshness, the flight in progress and the backoff.
    pub(super) fn decide(&self, margin: Duration) -> Decision {
        let Some(token) = &self.token else { return Decision::Load };
        let freshness = freshness(token.as_ref(), margin, SystemTime::now());
        // A valid token the store failed to save is saved before it is handed out: its
        // refresh token must outlive this process.
        if self.unsaved && freshness != Freshness::Expired {
            return match self.in_flight {
                Some(_) => Decision::Wait(self.started),
                None => Decision::Run { job: Job::Save, served: None },
            };
        }
        let backing_off = self.failure.as_ref().filter(|failure| Instant::now() < failure.retry_at);
        match (freshness, token) {
            (Freshness::Fresh, Some(current)) => Decision::Serve(current.clone()),
            // Stale: one caller renews, every other is served meanwhile (and during a backoff).
            (Freshness::Stale, Some(current)) if self.in_flight.is_some() || backing_off.is_some() => {
                Decision::Serve(current.clone())
            }
            (Freshness::Stale, current) => Decision::Run { job: Job::Renew, served: current.clone() },
            _ if self.in_flight.is_some() => Decision::Wait(self.started),
            _ => match backing_off {
                Some(failure) => Decision::BackingOff(failure.clone()),
                None => Decision::Run { job: Job::Renew, served: None },
            },
        }
    }

    /// What a flight starting now runs from.
    pub(super) fn held(&self) -> Held {
        Held { token: self.token.clone().flatten(), version: self.version, unsaved: self.unsaved }
    }

    /// Takes in the org's first read from the store (unless another caller did).
    pub(super) fn loaded(&mut self, mut loaded: Option<StoredToken>, version: u64) {
        if self.token.is_some() {
            return;
        }
        if let (Some(stored), Some(refused)) = (&mut loaded, self.invalidated.take()) {
            if stored.token.access_token == refused {
                stored.token.expires_at = SystemTime::UNIX_EPOCH;
            }
        }
        self.token = Some(loaded);
        self.version = version;
    }

    /// Takes in a flight's outcome (the store was written already); records or clears the
    /// backoff.
    pub(super) fn land(
        &mut self,
        org_id: &str,
        outcome: Outcome,
        config: &TokenManagerConfig,
        started: Instant,
    ) -> Result<StoredToken, CoboOAuthError> {
        match outcome {
            Outcome::Token { token, version, saved, issued } => {
                if let Some(operation) = issued {
                    events::renewal_succeeded(org_id, operation, started.elapsed());
                }
                self.unsaved = saved.is_err();
                self.token = Some(Some(token.clone()));
                self.version = version;
                self.failure = None;
                saved.map(|()| token)
            }
            Outcome::Revoked(err, version) => {
                self.token = Some(None);
                self.version = version;
                self.unsaved = false;
                Err(self.failed(org_id, err, config, started))
            }
            Outcome::Failed(err) => Err(self.failed(org_id, err, config, started)),
        }
    }

    /// Records a failed renewal: the org waits before the next attempt.
    fn failed(&mut self, org_id: &str, error: CoboOAuthError, config: &TokenManagerConfig, started: Instant) -> CoboOAuthError {
        let failures = self.failure.as_ref().map_or(0, |failure| failure.failures).saturating_add(1);
        let wait = config.backoff(failures);
        events::renewal_failed(org_id, &error, started.elapsed(), wait);
        self.failure = Some(Failure { error: error.clone(), failures, retry_at: Instant::now() + wait });
        error
    }

    /// What a forked child keeps: the cache, never a flight in progress.
    fn inherited(&self) -> OrgState {
        OrgState {
            token: self.token.clone(),
            version: self.version,
            unsaved: self.unsaved,
            invalidated: self.invalidated.clone(),
            failure: self.failure.clone(),
            ..OrgState::default()
        }
    }
}

/// A forked child's orgs: the parent's caches, as far as no thread held them at the fork.
pub(super) fn inherit_orgs(parent: &Mutex<HashMap<String, std::sync::Arc<Org>>>) -> Mutex<HashMap<String, std::sync::Arc<Org>>> {
    let Ok(orgs) = parent.try_lock() else { return Mutex::default() };
    let inherited = orgs
        .iter()
        .filter_map(|(id, org)| {
            let state = org.state.try_lock().ok()?.inherited();
            Some((id.clone(), std::sync::Arc::new(Org { state: Mutex::new(state), renewed: Condvar::new() })))
        })
        .collect();
    Mutex::new(inherited)
}
