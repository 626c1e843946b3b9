//! The TokenManager: cached org tokens renewed by the clock, one renewal per org at a
//! time, rotated refresh tokens saved before anyone uses them.
//!
//! One call, top to bottom (each step is one file):
//! 1. `freshness.rs`: a token is fresh (outside the refresh margin), stale (inside it,
//!    not expired) or expired.
//! 2. `org.rs`, `decide`: under the org's lock, from that freshness, the flight in
//!    progress and the backoff, one decision:
//!    - fresh: served (or, if an earlier save failed, a flight saves it first);
//!    - stale: served to every caller but one, which starts a renewal; a transient
//!      failure leaves it served;
//!    - expired or missing: callers wait for the one flight in progress and share its
//!      outcome; after a failed renewal the org backs off (exponential, jittered,
//!      capped) and callers get the recorded error, with no request;
//!    - never read: the store is read first, without the org's lock.
//! 3. `flight.rs`: the single flight. One renewal (or save) per org at a time in this
//!    process; blocked callers wait on the org's condition variable, async callers
//!    subscribe (`token_or_notify`); both get the one outcome.
//! 4. `renewal.rs`: the renewal, with store and client only, across every process
//!    sharing the store:
//!    - lease (`lease.rs`): take the org's lease in the store, re-reading while another
//!      process holds it;
//!    - adopt: under the lease re-read, and adopt a fresh token another process stored
//!      instead of renewing;
//!    - fence: before the refresh POST, compare-and-set the record with
//!      `refresh_in_flight`, then confirm the lease; if either fails nothing is sent.
//!      Cobo may spend the token whatever happens next (the holder dies, stalls past
//!      its lease, cannot save), so a renewal that finds the stored refresh token
//!      marked never presents it: it asks for a new grant (org_implicit, which spends
//!      nothing);
//!    - exchange: refresh (a heartbeat keeps the lease meanwhile); a refused refresh
//!      re-reads, then falls back to org_implicit; a 401 or 429 refuses the request,
//!      not the token, and never falls back;
//!    - compare-and-set the issued token, which clears the mark; a failed save after a
//!      refresh is retried under the lease until the deadline, since the store still
//!      holds the refresh token just spent.
//!
//!    A record older than the version this process holds is a rollback (a restored
//!    backup, a lagging replica): it is renewed from this process's own newer token,
//!    never adopted. A store that does not coordinate is seen through `SingleProcess`:
//!    its lease is always granted, so the same steps coordinate this process only.
//! 5. `org.rs`, `land`: the outcome updates the org's state and backoff, and the flight
//!    wakes its waiters.
//!
//! A flight an async caller starts runs on a thread of the blocking pool, to the end
//! (the rotated token is saved) even if nobody waits for it any more; so does the first
//! read of an org. No caller's thread or event loop ever blocks on the store.

mod config;
mod flight;
mod freshness;
mod lease;
mod org;
mod renewal;
mod store_calls;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

pub use config::TokenManagerConfig;
use flight::Flight;
use org::{inherit_orgs, Decision, Job, Org};
use renewal::{transient, Outcome, Renewal};

use crate::logging::events;
use crate::util::fork_local::ForkLocal;
use crate::tokens::store::{memory_token_store, CoordinatedTokenStore, SingleProcess, StoreKey, StoredToken, TokenStore};
use crate::util::lock::lock;
use crate::{CoboOAuthError, OAuthClient, Secret};

/// Orgs whose state is kept; past this, idle ones are dropped (their tokens stay in
/// the store), so arbitrary org ids cannot grow the map without bound.
const MAX_ORGS: usize = 10_000;

/// An access token and until when it may be served from a binding's own cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLease {
    pub access_token: Secret,
    pub serve_until: SystemTime,
}

/// Always-valid Org Access Tokens for one app.
pub struct TokenManager {
    client: Arc<OAuthClient>,
    client_id: String,
    store: Arc<dyn CoordinatedTokenStore>,
    /// Whether the store coordinates processes (else its lease is a formality).
    coordinated: bool,
    config: TokenManagerConfig,
    /// Per process: a forked child starts from the parent's cached tokens, without its
    /// flights or its locks.
    orgs: ForkLocal<Mutex<HashMap<String, Arc<Org>>>>,
}

/// A flight to run: what it does, and the still-valid token to serve if it fails
/// transiently.
struct Ticket {
    flight: Flight,
    job: Job,
    served: Option<StoredToken>,
    held: renewal::Held,
    deadline: crate::http::client::Deadline,
}

impl TokenManager {
    /// Does no I/O: tokens are loaded from the store per org, on first use.
    pub fn new(
        client: Arc<OAuthClient>,
        client_id: String,
        store: Option<Arc<dyn TokenStore>>,
        config: Option<TokenManagerConfig>,
    ) -> Result<Self, CoboOAuthError> {
        if client_id.trim().is_empty() {
            return Err(CoboOAuthError::InvalidArgument { reason: "client_id must not be empty".into() });
        }
        let config = config.unwrap_or_default();
        config.check()?;
        let store = store.unwrap_or_else(memory_token_store);
        let (store, coordinated) = match store.coordinated() {
            Some(coordinated) => {
                coordinated.offer_store_key(Arc::new(StoreKey::from_app_key(Arc::clone(client.app_key()))));
                (coordinated, true)
            }
            None => {
                events::single_process_store();
                (Arc::new(SingleProcess(store)) as Arc<dyn CoordinatedTokenStore>, false)
            }
        };
        Ok(TokenManager {
            client,
            client_id,
            store,
            coordinated,
            config,
            orgs: ForkLocal::new(Mutex::default(), inherit_orgs),
        })
    }

    /// A valid access token for the org.
    pub fn access_token(&self, org_id: String) -> Result<Secret, CoboOAuthError> {
        Ok(self.token(org_id)?.token.access_token)
    }

    /// `Bearer <access token>`.
    pub fn authorization_header(&self, org_id: String) -> Result<Secret, CoboOAuthError> {
        Ok(Secret::new(format!("Bearer {}", self.access_token(org_id)?.expose())))
    }

    /// The access token and the instant until which a binding may hand it out from its
    /// own cache without asking again: the start of the refresh margin. A binding's
    /// cache must drop the lease when it invalidates the token.
    pub fn lease(&self, org_id: String) -> Result<TokenLease, CoboOAuthError> {
        let stored = self.token(org_id)?;
        let serve_until = stored.token.expires_at.checked_sub(self.config.margin()).unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(TokenLease { access_token: stored.token.access_token, serve_until })
    }

    /// The org's current token; see the module comment for when it is renewed. Blocks
    /// while a flight it must wait for (or run) is in progress.
    pub fn token(&self, org_id: String) -> Result<StoredToken, CoboOAuthError> {
        require_org(&org_id)?;
        let org = self.org(&org_id);
        loop {
            let mut state = lock(&org.state);
            match state.decide(self.config.margin()) {
                Decision::Load => {
                    drop(state);
                    self.load(&org_id, &org)?;
                }
                Decision::Serve(token) => return Ok(token),
                Decision::BackingOff(failure) => return Err(backing_off(&org_id, failure)),
                Decision::Wait(number) => return flight::wait(&org, state, number),
                Decision::Run { job, served } => {
                    let ticket = self.ticket(&org, &mut state, job, served);
                    drop(state);
                    return self.run(&org_id, ticket);
                }
            }
        }
    }

    /// The org's token when the cache serves it as it is, else None (then ask `token` or
    /// `token_or_notify`). Never waits: not for the store (a first read, a save to retry),
    /// nor for a caller holding the org. For bindings whose every call is costly
    /// (Python's `AsyncTokenManager`): no callback to build for the common case.
    pub fn cached(&self, org_id: &str) -> Option<StoredToken> {
        let org = lock(self.orgs.get()).get(org_id).cloned()?;
        let state = org.state.try_lock().ok()?;
        match state.decide(self.config.margin()) {
            Decision::Serve(token) => Some(token),
            _ => None,
        }
    }

    /// The org's token without blocking, for event loops: `Some` at once when the cache
    /// can answer (a fresh or still-valid token, or the error of a backoff); otherwise
    /// `None`, and `notify` receives the outcome of the flight in progress. A flight this
    /// call starts runs on a pool thread, to the end (the rotated token is saved) even
    /// if nobody waits for it any more. So does the org's first read: never on the
    /// caller's thread. `AsyncTokenManager` is the future form.
    pub fn token_or_notify(
        self: &Arc<Self>,
        org_id: String,
        notify: impl FnOnce(Result<StoredToken, CoboOAuthError>) + Send + 'static,
    ) -> Option<Result<StoredToken, CoboOAuthError>> {
        if let Err(err) = require_org(&org_id) {
            return Some(Err(err));
        }
        let org = self.org(&org_id);
        let mut state = lock(&org.state);
        match state.decide(self.config.margin()) {
            Decision::Load => {
                drop(state);
                self.on_pool(org_id, notify)
            }
            Decision::Serve(token) => Some(Ok(token)),
            Decision::BackingOff(failure) => Some(Err(backing_off(&org_id, failure))),
            Decision::Wait(number) => flight::subscribe(&mut state, number, Box::new(notify)),
            Decision::Run { job, served } => {
                // A still-valid token is served now; without one the caller waits for this flight.
                if served.is_none() {
                    state.subscribers.push(Box::new(notify));
                }
                let ticket = self.ticket(&org, &mut state, job, served.clone());
                drop(state);
                let manager = Arc::clone(self);
                // If the OS refuses a thread, the ticket is dropped and its flight lands
                // with an error, which reaches the subscriber.
                let _ = crate::http::runtime::spawn_blocking(move || drop(manager.run(&org_id, ticket)));
                served.map(Ok)
            }
        }
    }

    /// `token` on a pool thread, its outcome to `notify`: for a caller (an event loop)
    /// whose call would otherwise wait for the store.
    fn on_pool(
        self: &Arc<Self>,
        org_id: String,
        notify: impl FnOnce(Result<StoredToken, CoboOAuthError>) + Send + 'static,
    ) -> Option<Result<StoredToken, CoboOAuthError>> {
        let slot = Arc::new(Mutex::new(Some(notify)));
        let (manager, job_slot) = (Arc::clone(self), Arc::clone(&slot));
        let started = crate::http::runtime::spawn_blocking(move || {
            let result = manager.token(org_id);
            let notify = lock(&job_slot).take();
            if let Some(notify) = notify {
                notify(result);
            }
        });
        match started {
            Ok(()) => None,
            Err(err) => {
                lock(&slot).take();
                Some(Err(CoboOAuthError::from(err)))
            }
        }
    }

    /// Starts a flight for `job`, under the org's lock.
    fn ticket(&self, org: &Arc<Org>, state: &mut org::OrgState, job: Job, served: Option<StoredToken>) -> Ticket {
        let deadline = self.client.deadline();
        let held = state.held();
        Ticket { flight: Flight::start(org, state, deadline), job, served, held, deadline }
    }

    /// Runs a flight and lands it; a transient failure serves the still-valid token.
    fn run(&self, org_id: &str, ticket: Ticket) -> Result<StoredToken, CoboOAuthError> {
        let Ticket { flight, job, served, held, deadline } = ticket;
        let started = Instant::now();
        let renewal = Renewal {
            store: &*self.store,
            coordinated: self.coordinated,
            client: &self.client,
            client_id: &self.client_id,
            config: &self.config,
            org_id,
            deadline,
        };
        let work = || {
            crate::tokens::store::within(deadline, || match (job, held.token.clone()) {
                (Job::Save, Some(token)) => renewal.save(token, None, held.version),
                _ => renewal.renew(held),
            })
        };
        // A panic here is this crate's bug, not the store's or Cobo's: never retried as transient.
        let outcome = catch_unwind(AssertUnwindSafe(work))
            .unwrap_or_else(|panic| Outcome::Failed(CoboOAuthError::Internal { reason: store_calls::panicked("the renewal", &*panic) }));
        let org = Arc::clone(flight.org());
        let mut state = lock(&org.state);
        let result = state.land(org_id, outcome, &self.config, started);
        flight.land(state, &result);
        match (result, served) {
            // A transient failure while the old token is still good: serve that one.
            (Err(err), Some(current)) if transient(&err) => Ok(current),
            (result, _) => result,
        }
    }

    /// Reads the org's record into its state: the first use of the org. The read runs
    /// without the org's lock: a slow store holds each caller for its own call only
    /// (bounded by the store's timeouts), never behind another caller's.
    fn load(&self, org_id: &str, org: &Org) -> Result<(), CoboOAuthError> {
        let record = store_calls::load(&*self.store, org_id, None)?;
        lock(&org.state).loaded(record.token, record.version);
        Ok(())
    }

    /// When the org's refresh token expires, if a token is known. No network I/O.
    pub fn refresh_token_expires_at(&self, org_id: String) -> Result<Option<SystemTime>, CoboOAuthError> {
        require_org(&org_id)?;
        let org = self.org(&org_id);
        if lock(&org.state).token.is_none() {
            self.load(&org_id, &org)?;
        }
        let expires_at = lock(&org.state).token.clone().flatten().map(|stored| stored.refresh_expires_at);
        Ok(expires_at)
    }

    /// Expires the cached access token if it is still `access_token`, the one the caller
    /// used and saw refused; the next call renews it. A token renewed meanwhile is kept,
    /// so many callers reporting one refused token cause one renewal. The refresh token
    /// stays. Returns whether the token was current.
    pub fn invalidate(&self, org_id: String, access_token: Secret) -> Result<bool, CoboOAuthError> {
        require_org(&org_id)?;
        let org = self.org(&org_id);
        let mut state = lock(&org.state);
        match &mut state.token {
            Some(Some(stored)) if stored.token.access_token == access_token => {
                stored.token.expires_at = SystemTime::UNIX_EPOCH;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => {
                state.invalidated = Some(access_token);
                Ok(true)
            }
        }
    }

    /// Forgets the org (it uninstalled the app): its tokens leave this process's cache
    /// and the store. A renewal in flight for it saves with compare-and-set in a shared
    /// store, which the delete (a new version) makes fail.
    pub fn forget(&self, org_id: String) -> Result<(), CoboOAuthError> {
        require_org(&org_id)?;
        lock(self.orgs.get()).remove(&org_id);
        store_calls::guarded(|| self.store.delete(org_id.clone())).inspect_err(|err| events::store_failed(&org_id, "delete", err))
    }

    fn org(&self, org_id: &str) -> Arc<Org> {
        let mut orgs = lock(self.orgs.get());
        if orgs.len() >= MAX_ORGS && !orgs.contains_key(org_id) {
            // Drop the orgs nobody is using that hold nothing the store lacks.
            orgs.retain(|_, org| {
                Arc::strong_count(org) > 1
                    || org.state.try_lock().map_or(true, |state| state.in_flight.is_some() || state.unsaved)
            });
        }
        orgs.entry(org_id.to_owned()).or_default().clone()
    }
}

fn backing_off(org_id: &str, failure: org::Failure) -> CoboOAuthError {
    events::backing_off(org_id, failure.failures, failure.retry_at.saturating_duration_since(Instant::now()));
    failure.error
}

fn require_org(org_id: &str) -> Result<(), CoboOAuthError> {
    if org_id.trim().is_empty() {
        return Err(CoboOAuthError::InvalidArgument { reason: "org_id must not be empty".into() });
    }
    Ok(())
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("client_id", &self.client_id)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppKey, ClientConfig};

    #[test]
    fn arbitrary_org_ids_do_not_grow_the_map_without_bound() {
        let key = Arc::new(AppKey::generate().unwrap());
        let config = ClientConfig::for_base_url("http://127.0.0.1:9/v2", key.api_key());
        let client = Arc::new(OAuthClient::new(key, config).unwrap());
        let manager = TokenManager::new(client, "app".into(), None, None).unwrap();
        let held = manager.org("held"); // in use: never dropped
        lock(&held.state).unsaved = true;
        for i in 0..MAX_ORGS + 500 {
            drop(manager.org(&format!("org-{i}")));
        }
        let orgs = lock(manager.orgs.get());
        assert!(orgs.len() <= MAX_ORGS, "{} orgs kept", orgs.len());
        assert!(orgs.contains_key("held"));
    }
}
