//! The TokenManager: cached org tokens renewed by the clock, one renewal per org at a
//! time, rotated refresh tokens saved before anyone uses them.
//!
//! The renewal, per org:
//! - a token outside the refresh margin is served from the cache;
//! - a token inside the margin but not expired ("stale") is served at once to every
//!   caller but one, which renews; a transient failure leaves it served;
//! - a missing or expired token makes callers wait for the one renewal in flight and
//!   share its outcome;
//! - after a failed renewal the org backs off (exponential, jittered, capped): until
//!   then a still-valid token is served and an expired one gets the recorded error,
//!   with no request.
//!
//! A renewal, across every process sharing the store (COORDINATION.md's protocol):
//! take the org's lease in the store, re-reading while waiting for it; under the
//! lease re-read again, and adopt a fresh token another process stored instead of
//! renewing; else refresh with the stored (newest) refresh token while a heartbeat
//! keeps the lease, and save with compare-and-set; a failed save is retried, under the
//! lease, until the deadline, since the store still holds the refresh token just spent.
//!
//! The refresh token is fenced (FENCING.md): before the refresh POST the record is
//! saved (compare-and-set) with `refresh_in_flight`, and the lease confirmed; if either
//! fails nothing is sent. Cobo may spend the token whatever happens next: the holder
//! dies, stalls past its lease, or cannot save. So a renewal that finds the stored
//! refresh token marked never presents it: it asks for a new grant (org_implicit,
//! which spends nothing) and compare-and-sets that, which clears the mark. The saved
//! result of the holder's own refresh clears it too.
//! A record older than the version this process holds is a rollback (a restored
//! backup, a lagging replica): it is renewed from this process's own newer token, never
//! adopted. A refused refresh re-reads before falling back to org_implicit; a 401 or
//! 429 refuses the request, not the token, and never falls back. A store that does not coordinate is seen through
//! `SingleProcess`: its lease is always granted, so the same steps coordinate this
//! process only.
//!
//! Callers that must wait either block on the org's condition variable (the blocking
//! API) or subscribe to the renewal in flight (`token_or_notify`, behind the async
//! API): one renewal serves both kinds. A renewal needed by an async caller runs on a
//! thread of the blocking pool (bounded: beyond its size renewals wait their turn), so
//! no caller's thread or executor ever blocks on it.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::client::Deadline;
use crate::events::{self, Operation};
use crate::fork::ForkLocal;
use crate::store::{memory_token_store, CoordinatedTokenStore, SingleProcess, StoredToken, TokenStore, VersionedToken};
use crate::sync::lock;
use crate::{CoboOAuthError, OAuthClient, Secret};

/// How a TokenManager decides a token needs renewing. Defaults match the UDL's.
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
/// How often a process waiting for another's lease re-reads the store: from the first
/// to the last pause, doubling, jittered.
const LEASE_POLL: (Duration, Duration) = (Duration::from_millis(20), Duration::from_millis(320));
/// How a failed save of a rotated token is retried until the deadline: from the first
/// to the last pause, doubling, jittered.
const SAVE_RETRY: (Duration, Duration) = (Duration::from_millis(50), Duration::from_millis(1_000));
/// Orgs whose state is kept; past this, idle ones are dropped (their tokens stay in
/// the store), so arbitrary org ids cannot grow the map without bound.
const MAX_ORGS: usize = 10_000;

impl TokenManagerConfig {
    fn check(&self) -> Result<(), CoboOAuthError> {
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
}

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
    /// renewals in flight or its locks.
    orgs: ForkLocal<Mutex<HashMap<String, Arc<Org>>>>,
}

/// One organization's state, and the condition its waiters sleep on.
#[derive(Default)]
struct Org {
    state: Mutex<OrgState>,
    renewed: Condvar,
}

#[derive(Default)]
struct OrgState {
    /// `None` until the store was asked once.
    token: Option<Option<StoredToken>>,
    /// The store's version of `token`, for the next compare-and-set save.
    version: u64,
    /// A token the store failed to save: retried before the token is handed out.
    unsaved: bool,
    /// `invalidate` came before the store was asked: expire this token if loaded.
    invalidated: Option<Secret>,
    /// Renewals started so far; the one in flight, if any, is `started`.
    started: u64,
    /// When the renewal in flight must have ended.
    in_flight: Option<Deadline>,
    /// The outcome of renewal number `.0`, for the callers that waited for it.
    last: Option<(u64, Result<StoredToken, CoboOAuthError>)>,
    /// The last renewal failed: no new one before `retry_at`.
    failure: Option<Failure>,
    /// Async callers waiting for the renewal in flight.
    subscribers: Vec<Subscriber>,
}

#[derive(Clone)]
struct Failure {
    error: CoboOAuthError,
    failures: u32,
    retry_at: Instant,
}

impl OrgState {
    /// What a forked child keeps: the cache, never a renewal in flight.
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

    fn backing_off(&self) -> Option<&Failure> {
        self.failure.as_ref().filter(|failure| Instant::now() < failure.retry_at)
    }

    /// How long the cached token is still valid (None: no token, or expired).
    fn left(&self) -> Option<Duration> {
        let stored = self.token.as_ref()?.as_ref()?;
        stored.token.expires_at.duration_since(SystemTime::now()).ok().filter(|left| !left.is_zero())
    }
}

fn inherit_orgs(parent: &Mutex<HashMap<String, Arc<Org>>>) -> Mutex<HashMap<String, Arc<Org>>> {
    let Ok(orgs) = parent.try_lock() else { return Mutex::default() };
    let inherited = orgs
        .iter()
        .filter_map(|(id, org)| {
            let state = org.state.try_lock().ok()?.inherited();
            Some((id.clone(), Arc::new(Org { state: Mutex::new(state), renewed: Condvar::new() })))
        })
        .collect();
    Mutex::new(inherited)
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
            Some(coordinated) => (coordinated, true),
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
        let serve_until = stored.token.expires_at.checked_sub(self.margin()).unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(TokenLease { access_token: stored.token.access_token, serve_until })
    }

    /// The org's current token; see the module comment for when it is renewed. Blocks
    /// while a renewal it must wait for (or run) is in flight.
    pub fn token(&self, org_id: String) -> Result<StoredToken, CoboOAuthError> {
        require_org(&org_id)?;
        let org = self.org(&org_id);
        match self.next(&org_id, &org)? {
            Next::Done(result) => result,
            Next::Wait(renewal) => wait_for_renewal(&org, renewal),
            Next::Renew(ticket) => self.run(&org_id, ticket),
        }
    }

    /// The org's token when the cache serves it as it is, else None (then ask `token` or
    /// `token_or_notify`). Never waits: not for the store (a first load, a save to retry),
    /// nor for a caller holding the org. For bindings whose every call is costly
    /// (Python's `AsyncTokenManager`): no callback to build for the common case.
    pub fn cached(&self, org_id: &str) -> Option<StoredToken> {
        let org = lock(self.orgs.get()).get(org_id).cloned()?;
        let state = org.state.try_lock().ok()?;
        let served = self.served_as_is(state.left()?, &state) && !state.unsaved;
        served.then(|| state.token.clone().flatten()).flatten()
    }

    /// The org's token without blocking, for event loops: `Some` at once when the cache
    /// can answer (a fresh or still-valid token, or the error of a backoff); otherwise
    /// `None`, and `notify` receives the outcome of the renewal in flight. A renewal
    /// this call starts runs on a pool thread, to the end (the rotated token is
    /// saved) even if nobody waits for it any more. So does any store I/O (the org's
    /// first read, a save to retry): never on the caller's thread. `AsyncTokenManager`
    /// is the future form.
    pub fn token_or_notify(
        self: &Arc<Self>,
        org_id: String,
        notify: impl FnOnce(Result<StoredToken, CoboOAuthError>) + Send + 'static,
    ) -> Option<Result<StoredToken, CoboOAuthError>> {
        if let Err(err) = require_org(&org_id) {
            return Some(Err(err));
        }
        let org = self.org(&org_id);
        if needs_store(&org) {
            return self.on_pool(org_id, notify);
        }
        match self.next(&org_id, &org) {
            Err(err) => Some(Err(err)),
            Ok(Next::Done(result)) => Some(result),
            Ok(Next::Wait(renewal)) => subscribe(&org, renewal, Box::new(notify)),
            Ok(Next::Renew(ticket)) => {
                // A stale token is served now; an expired one waits for this renewal.
                let served = ticket.valid.clone();
                if served.is_none() {
                    lock(&org.state).subscribers.push(Box::new(notify));
                }
                let manager = Arc::clone(self);
                // If the OS refuses a thread, the ticket is dropped and its flight lands
                // with an error, which reaches the subscriber.
                let _ = crate::blocking_pool::run(move || drop(manager.run(&org_id, ticket)));
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
        let started = crate::blocking_pool::run(move || {
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
                Some(Err(CoboOAuthError::Transport { reason: format!("no thread to read the token store on: {err}") }))
            }
        }
    }

    /// What this caller does next, decided under the org's lock.
    fn next(&self, org_id: &str, org: &Arc<Org>) -> Result<Next, CoboOAuthError> {
        let mut state = self.loaded(org_id, org)?;
        let left = state.left();
        match (left, state.token.clone().flatten()) {
            (Some(left), Some(current)) if self.served_as_is(left, &state) => {
                return Ok(Next::Done(self.serve(org_id, &mut state, current)));
            }
            (Some(_), _) => {} // stale: this caller renews, everyone else is served meanwhile
            (None, _) if state.in_flight.is_some() => return Ok(Next::Wait(state.started)),
            (None, _) => {
                if let Some(failure) = state.backing_off() {
                    events::backing_off(org_id, failure.failures, failure.retry_at - Instant::now());
                    return Ok(Next::Done(Err(failure.error.clone())));
                }
            }
        }
        let current = state.token.clone().flatten();
        let deadline = self.client.deadline();
        state.started += 1;
        state.in_flight = Some(deadline);
        Ok(Next::Renew(Ticket {
            flight: Flight { org: Arc::clone(org), number: state.started, landed: false },
            // Served if this renewal fails transiently: it has not expired yet.
            valid: left.and(current.clone()),
            current,
            unsaved: state.unsaved,
            version: state.version,
            deadline,
        }))
    }

    /// Runs a renewal and lands it; a transient failure serves the still-valid token.
    fn run(&self, org_id: &str, ticket: Ticket) -> Result<StoredToken, CoboOAuthError> {
        let Ticket { flight, current, valid, unsaved, version, deadline } = ticket;
        let started = Instant::now();
        let renew = || crate::store::within(deadline, || self.renew(org_id, current, unsaved, version, deadline));
        let renewal = catch_unwind(AssertUnwindSafe(renew))
            .unwrap_or_else(|panic| Renewal::Failed(panicked("the renewal", panic)));
        let result = self.land(org_id, flight, renewal, started);
        match (result, valid) {
            // A transient failure while the old token is still good: serve that one.
            (Err(err), Some(current)) if transient(&err) => Ok(current),
            (result, _) => result,
        }
    }

    /// When the org's refresh token expires, if a token is known. No network I/O.
    pub fn refresh_token_expires_at(&self, org_id: String) -> Result<Option<SystemTime>, CoboOAuthError> {
        require_org(&org_id)?;
        let org = self.org(&org_id);
        let state = self.loaded(&org_id, &org)?;
        Ok(state.token.clone().flatten().map(|stored| stored.refresh_expires_at))
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

    /// The org's state, its token read from the store on first use. The read runs
    /// without the org's lock: a slow store holds each caller for its own call only
    /// (bounded by the store's timeouts), never behind another caller's.
    fn loaded<'a>(&self, org_id: &str, org: &'a Org) -> Result<MutexGuard<'a, OrgState>, CoboOAuthError> {
        let state = lock(&org.state);
        if state.token.is_some() {
            return Ok(state);
        }
        drop(state);
        let VersionedToken { token: mut loaded, version } = self.load_versioned(org_id, None)?;
        let mut state = lock(&org.state);
        if state.token.is_none() {
            if let (Some(stored), Some(refused)) = (&mut loaded, state.invalidated.take()) {
                if stored.token.access_token == refused {
                    stored.token.expires_at = SystemTime::UNIX_EPOCH;
                }
            }
            state.token = Some(loaded);
            state.version = version;
        }
        Ok(state)
    }

    /// The org's record; `known`, the token this process holds, is cut out of an error.
    fn load_versioned(&self, org_id: &str, known: Option<&StoredToken>) -> Result<VersionedToken, CoboOAuthError> {
        guarded(|| self.store.load_versioned(org_id.to_owned()))
            .map_err(|err| scrubbed(err, known))
            .inspect_err(|err| events::store_failed(org_id, "load", err))
    }

    /// Whether a valid token with `left` to live is served as it is: fresh, or another
    /// caller is renewing it already, or renewals are backing off after a failure.
    fn served_as_is(&self, left: Duration, state: &OrgState) -> bool {
        left > self.margin() || state.in_flight.is_some() || state.backing_off().is_some()
    }

    /// Hands out a cached token, saving it first if an earlier save failed. If another
    /// process saved meanwhile, its record wins: the next call loads it.
    fn serve(&self, org_id: &str, state: &mut OrgState, current: StoredToken) -> Result<StoredToken, CoboOAuthError> {
        if state.unsaved {
            let save = || self.store.save_if_version(org_id.to_owned(), current.clone(), state.version);
            let saved = guarded(|| crate::store::within(self.client.deadline(), save))
                .map_err(|err| scrubbed(err, [&current]))
                .inspect_err(|err| events::store_failed(org_id, "save", err))?;
            state.unsaved = false;
            if saved {
                state.version += 1;
            } else {
                events::save_conflict(org_id);
                state.token = None;
            }
        }
        Ok(current)
    }

    /// Whether `record` holds a token another process renewed: fresh, and not the one
    /// this process has (which may have been refused).
    fn renewed_elsewhere(&self, record: &VersionedToken, cached: Option<&StoredToken>) -> Option<StoredToken> {
        let stored = record.token.as_ref()?;
        let fresh = stored.token.expires_at.duration_since(SystemTime::now()).is_ok_and(|left| left > self.margin());
        let ours = cached.is_some_and(|cached| cached.token.access_token == stored.token.access_token);
        (fresh && !ours).then(|| stored.clone())
    }

    /// Whether `record` is older than the version `held` this process knows: a shared
    /// store went back. (A plain store has no versions: its records are all 0.)
    fn rolled_back(&self, record: &VersionedToken, held: u64) -> bool {
        self.coordinated && record.version < held
    }

    fn margin(&self) -> Duration {
        Duration::from_secs(self.config.refresh_margin_secs)
    }

    /// One renewal, as the module comment describes: every store write happens here,
    /// under the org's lease. `held` is the version of `cached` this process knows: a
    /// store found below it was rolled back (a restored backup, a lagging replica), and
    /// its refresh token may be one this process has spent already.
    fn renew(&self, org_id: &str, cached: Option<StoredToken>, unsaved: bool, held: u64, deadline: Deadline) -> Renewal {
        let (lease, record) = match self.take_lease(org_id, cached.as_ref(), held, deadline) {
            Ok(Taken::Held(lease, record)) => (lease, record),
            Ok(Taken::Adopted(token, version)) => return Renewal::Adopted(token, version),
            Err(err) => return Renewal::Failed(err),
        };
        let rolled_back = self.rolled_back(&record, held) && cached.is_some();
        if rolled_back {
            events::rolled_back(org_id, record.version, held);
        }
        // The stored refresh token is the newest, unless this process failed to save
        // its own or the store went back to an older one.
        let newest = if unsaved || rolled_back { cached } else { record.token.or(cached) };
        let mut version = record.version;
        lease.kept_alive(|| {
            let refresh = match self.fence(org_id, newest, &lease, &mut version) {
                Ok(refresh) => refresh,
                Err(renewal) => return renewal,
            };
            match self.exchange(org_id, refresh, deadline) {
                Exchange::Issued(token, operation) => self.save(org_id, token, operation, version, deadline),
                Exchange::Adopted(token, version) => Renewal::Adopted(token, version),
                Exchange::Revoked(err) => {
                    // The tokens are dead either way; a failed delete must not hide why.
                    let _ = guarded(|| self.store.delete(org_id.to_owned()))
                        .inspect_err(|err| events::store_failed(org_id, "delete", err));
                    Renewal::Revoked(err, version + 1)
                }
                Exchange::Failed(err) => Renewal::Failed(err),
            }
        })
    }

    /// The stored token whose refresh token this renewal may present, or None (then it
    /// asks for a new grant): none, expired, or marked in flight by a renewal that may
    /// have presented it already (a process that died, stalled past its lease, or
    /// failed to save). In a shared store the mark is written first (`version` moves
    /// past it) and the lease confirmed; if either fails, nothing is sent.
    fn fence(
        &self,
        org_id: &str,
        newest: Option<StoredToken>,
        lease: &RenewalLease,
        version: &mut u64,
    ) -> Result<Option<StoredToken>, Renewal> {
        let Some(stored) = newest.filter(|stored| stored.refresh_expires_at > SystemTime::now()) else { return Ok(None) };
        if stored.refresh_in_flight {
            events::refresh_in_flight(org_id);
            return Ok(None);
        }
        if !self.coordinated {
            return Ok(Some(stored));
        }
        let marked = StoredToken { refresh_in_flight: true, ..stored.clone() };
        let saved = guarded(|| self.store.save_if_version(org_id.to_owned(), marked, *version)).map_err(|err| scrubbed(err, [&stored]));
        match saved {
            Ok(true) => *version += 1,
            Ok(false) => {
                events::save_conflict(org_id);
                return Err(match self.load_versioned(org_id, Some(&stored)) {
                    Ok(VersionedToken { token: Some(theirs), version }) if theirs.token.expires_at > SystemTime::now() => {
                        Renewal::Adopted(theirs, version)
                    }
                    Ok(_) => Renewal::Failed(CoboOAuthError::Store { reason: "the record changed under the renewal lease".into() }),
                    Err(err) => Renewal::Failed(err),
                });
            }
            Err(err) => {
                events::store_failed(org_id, "save", &err);
                return Err(Renewal::Failed(err));
            }
        }
        if !lease.confirm() {
            events::lease_lost(org_id);
            let reason = "the renewal lease was lost before the refresh token was sent".into();
            return Err(Renewal::Failed(CoboOAuthError::Store { reason }));
        }
        Ok(Some(stored))
    }

    /// Takes the org's lease, re-reading the store while another process holds it;
    /// adopts a token renewed elsewhere, before or under the lease.
    fn take_lease<'a>(
        &'a self,
        org_id: &'a str,
        cached: Option<&StoredToken>,
        held: u64,
        deadline: Deadline,
    ) -> Result<Taken<'a>, CoboOAuthError> {
        let owner = format!("{}-{:016x}", std::process::id(), crate::random::u64());
        let ttl = self.config.lease_ttl_ms;
        let mut pause = LEASE_POLL.0;
        loop {
            let acquired = guarded(|| self.store.acquire_lease(org_id.to_owned(), owner.clone(), ttl))
                .inspect_err(|err| events::store_failed(org_id, "lease", err))?;
            let lease = acquired.then(|| RenewalLease { manager: self, org_id, owner: owner.clone() });
            let record = self.load_versioned(org_id, cached)?;
            // A record older than ours is a rollback, never another process's renewal.
            if let Some(token) = self.renewed_elsewhere(&record, cached).filter(|_| !self.rolled_back(&record, held)) {
                events::adopted(org_id);
                return Ok(Taken::Adopted(token, record.version));
            }
            if let Some(lease) = lease {
                return Ok(Taken::Held(lease, record));
            }
            if Instant::now() + pause >= deadline {
                return Err(CoboOAuthError::Timeout { reason: "another process held the renewal lease past the deadline".into() });
            }
            thread::sleep(crate::random::equal_jitter(pause));
            pause = (pause * 2).min(LEASE_POLL.1);
        }
    }

    /// Refreshes with `newest`'s refresh token (see `fence`), if any. When Cobo refuses it
    /// (spent, expired, revoked, or an answer that is not a token), re-reads: a
    /// different stored token means another process rotated it, and is adopted;
    /// otherwise, or with no refresh token, asks for a new grant once. Both calls share
    /// one deadline.
    fn exchange(&self, org_id: &str, newest: Option<StoredToken>, deadline: Deadline) -> Exchange {
        if let Some(stored) = newest {
            events::renewal_started(org_id, Operation::Refresh);
            let refreshed = self.client.refresh_org_token_by(self.client_id.clone(), stored.token.refresh_token.clone(), deadline);
            match refreshed {
                Ok(token) => return Exchange::Issued(self.stored(token), Operation::Refresh),
                // Only a refusal of the refresh token itself leads to the fallback: a 401
                // (the request's key, signature or nonce) or a 429 says nothing about it.
                Err(err) if transient(&err) || refuses_request(&err) => return Exchange::Failed(err),
                Err(refused) => {
                    if let Ok(record) = self.load_versioned(org_id, Some(&stored)) {
                        let rotated = record.token.as_ref().filter(|now| {
                            now.token.refresh_token != stored.token.refresh_token && now.token.expires_at > SystemTime::now()
                        });
                        if let Some(token) = rotated {
                            events::adopted(org_id);
                            return Exchange::Adopted(token.clone(), record.version);
                        }
                    }
                    events::fallback(org_id, &refused);
                }
            }
        }
        events::renewal_started(org_id, Operation::OrgImplicit);
        match self.client.get_org_token_by(self.client_id.clone(), org_id.to_owned(), deadline) {
            Ok(token) => Exchange::Issued(self.stored(token), Operation::OrgImplicit),
            Err(CoboOAuthError::OAuth { status, error, error_description }) if revoked(status, &error) => {
                Exchange::Revoked(CoboOAuthError::AuthorizationRequired {
                    org_id: org_id.to_owned(),
                    status,
                    error,
                    error_description,
                })
            }
            Err(err) => Exchange::Failed(err),
        }
    }

    /// Saves a token Cobo issued, if the record is still the version read under the
    /// lease. A conflict means the lease was lost and someone else saved: their token
    /// wins while it is valid, so every process stays on one chain. In a store other
    /// processes share, a failed save after a refresh is retried until the deadline,
    /// under the lease: the store still holds the refresh token Cobo has just spent,
    /// which nobody may present again.
    fn save(&self, org_id: &str, token: StoredToken, operation: Operation, version: u64, deadline: Deadline) -> Renewal {
        let issued = |version, saved| Renewal::Issued { token: token.clone(), operation, version, saved };
        let mut pause = SAVE_RETRY.0;
        let saved = loop {
            let saved = guarded(|| self.store.save_if_version(org_id.to_owned(), token.clone(), version));
            match saved.map_err(|err| scrubbed(err, [&token])) {
                // Only where other processes read the store, and only after a refresh: an
                // org_implicit grant spent nothing the store holds. (A plain store's
                // process keeps the token unsaved and saves it on the next call.)
                Err(err) if self.coordinated && operation == Operation::Refresh && Instant::now() + pause < deadline => {
                    events::store_failed(org_id, "save", &err);
                    thread::sleep(crate::random::equal_jitter(pause));
                    pause = (pause * 2).min(SAVE_RETRY.1);
                }
                saved => break saved,
            }
        };
        match saved {
            Ok(true) => issued(version + 1, Ok(())),
            Ok(false) => {
                events::save_conflict(org_id);
                match self.load_versioned(org_id, Some(&token)) {
                    Ok(VersionedToken { token: Some(theirs), version }) if theirs.token.expires_at > SystemTime::now() => {
                        Renewal::Adopted(theirs, version)
                    }
                    Ok(record) => issued(record.version, Err(CoboOAuthError::Store { reason: "the save lost a race".into() })),
                    Err(err) => issued(version, Err(err)),
                }
            }
            Err(err) => {
                events::store_failed(org_id, "save", &err);
                issued(version, Err(err))
            }
        }
    }

    /// Publishes a renewal's outcome (the store was written under the lease), records
    /// or clears the org's backoff, and wakes the callers waiting for it.
    fn land(
        &self,
        org_id: &str,
        mut flight: Flight,
        renewal: Renewal,
        started: Instant,
    ) -> Result<StoredToken, CoboOAuthError> {
        let org = Arc::clone(&flight.org);
        let mut state = lock(&org.state);
        let result = match renewal {
            Renewal::Issued { token, operation, version, saved } => {
                events::renewal_succeeded(org_id, operation, started.elapsed());
                state.unsaved = saved.is_err();
                state.token = Some(Some(token.clone()));
                state.version = version;
                state.failure = None;
                saved.map(|()| token)
            }
            Renewal::Adopted(token, version) => {
                state.unsaved = false;
                state.token = Some(Some(token.clone()));
                state.version = version;
                state.failure = None;
                Ok(token)
            }
            Renewal::Revoked(err, version) => {
                state.token = Some(None);
                state.version = version;
                state.unsaved = false;
                Err(self.failed(org_id, &mut state, err, started))
            }
            Renewal::Failed(err) => Err(self.failed(org_id, &mut state, err, started)),
        };
        let subscribers = flight.land(&mut state, result.clone());
        drop(state);
        notify(subscribers, &result);
        result
    }

    /// Records a failed renewal: the org waits before the next attempt.
    fn failed(&self, org_id: &str, state: &mut OrgState, error: CoboOAuthError, started: Instant) -> CoboOAuthError {
        let failures = state.failure.as_ref().map_or(0, |failure| failure.failures).saturating_add(1);
        let wait = backoff(&self.config, failures);
        events::renewal_failed(org_id, &error, started.elapsed(), wait);
        state.failure = Some(Failure { error: error.clone(), failures, retry_at: Instant::now() + wait });
        error
    }

    fn stored(&self, token: crate::OrgToken) -> StoredToken {
        let lifetime = Duration::from_secs(self.config.refresh_token_lifetime_secs);
        let refresh_expires_at = SystemTime::now().checked_add(lifetime).unwrap_or(token.expires_at);
        StoredToken { token, refresh_expires_at, refresh_in_flight: false }
    }
}

/// A caller waiting without blocking (an async task, an event loop's future): called
/// once with the outcome of the renewal in flight, outside the org's lock.
type Subscriber = Box<dyn FnOnce(Result<StoredToken, CoboOAuthError>) + Send>;

/// What a caller does next.
enum Next {
    /// Hand this out now: a cached token, or the error a backoff recorded.
    Done(Result<StoredToken, CoboOAuthError>),
    /// Wait for renewal number `.0`, in flight.
    Wait(u64),
    /// Run a renewal.
    Renew(Ticket),
}

/// A renewal to run: its flight (landed whatever happens), the token to refresh, and
/// the still-valid token to serve if it fails transiently.
struct Ticket {
    flight: Flight,
    current: Option<StoredToken>,
    valid: Option<StoredToken>,
    unsaved: bool,
    /// The store's version of `current`, as this process knows it.
    version: u64,
    deadline: Deadline,
}

/// The renewal in flight. Landing it publishes its outcome; dropping it unlanded (a
/// panic unwinding past it, a thread the OS refused) publishes an error, so waiters
/// never wait for ever.
struct Flight {
    org: Arc<Org>,
    number: u64,
    landed: bool,
}

impl Flight {
    /// Publishes the outcome and wakes blocked waiters; returns the subscribers, to be
    /// told once the lock is released.
    fn land(&mut self, state: &mut OrgState, outcome: Result<StoredToken, CoboOAuthError>) -> Vec<Subscriber> {
        state.in_flight = None;
        state.last = Some((self.number, outcome));
        self.landed = true;
        self.org.renewed.notify_all();
        std::mem::take(&mut state.subscribers)
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        if !self.landed {
            let org = Arc::clone(&self.org);
            let error = Err(CoboOAuthError::Store { reason: "the renewal was aborted".into() });
            let mut state = lock(&org.state);
            let subscribers = self.land(&mut state, error.clone());
            drop(state);
            notify(subscribers, &error);
        }
    }
}

fn notify(subscribers: Vec<Subscriber>, outcome: &Result<StoredToken, CoboOAuthError>) {
    for subscriber in subscribers {
        // A subscriber that panics (a foreign callback) must not stop the others.
        let _ = catch_unwind(AssertUnwindSafe(|| subscriber(outcome.clone())));
    }
}

/// Subscribes to renewal `awaited`, or returns its outcome if it has landed already.
fn subscribe(org: &Org, awaited: u64, subscriber: Subscriber) -> Option<Result<StoredToken, CoboOAuthError>> {
    let mut state = lock(&org.state);
    match &state.last {
        Some((number, outcome)) if *number >= awaited => Some(outcome.clone()),
        _ => {
            state.subscribers.push(subscriber);
            None
        }
    }
}

/// Waits for renewal `awaited` and shares its outcome; gives up at its deadline.
fn wait_for_renewal(org: &Org, awaited: u64) -> Result<StoredToken, CoboOAuthError> {
    let mut state = lock(&org.state);
    loop {
        // A later renewal may already have finished too; its outcome is newer.
        if let Some((number, outcome)) = &state.last {
            if *number >= awaited {
                return outcome.clone();
            }
        }
        // Slack past the renewal's own deadline, for the store's save.
        let give_up = state.in_flight.map(|deadline| deadline + Duration::from_secs(5));
        let Some(left) = give_up.and_then(|at| at.checked_duration_since(Instant::now())) else {
            return Err(CoboOAuthError::Timeout { reason: "the renewal this call waited for did not end in time".into() });
        };
        state = org.renewed.wait_timeout(state, left).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
    }
}

/// How a renewal ended; the store has been written already.
enum Renewal {
    /// Cobo issued a token; `saved` says whether the store has it, at `version`.
    Issued { token: StoredToken, operation: Operation, version: u64, saved: Result<(), CoboOAuthError> },
    /// Another process renewed: its stored token, at this version.
    Adopted(StoredToken, u64),
    /// Cobo refused every grant: the org's tokens are dead and deleted.
    Revoked(CoboOAuthError, u64),
    /// The stored tokens stay as they are.
    Failed(CoboOAuthError),
}

/// What talking to Cobo under the lease gave.
enum Exchange {
    Issued(StoredToken, Operation),
    Adopted(StoredToken, u64),
    Revoked(CoboOAuthError),
    Failed(CoboOAuthError),
}

enum Taken<'a> {
    /// This process holds the lease; the record as read under it.
    Held(RenewalLease<'a>, VersionedToken),
    /// Another process renewed meanwhile.
    Adopted(StoredToken, u64),
}

/// The org's lease in the store, released on drop.
struct RenewalLease<'a> {
    manager: &'a TokenManager,
    org_id: &'a str,
    owner: String,
}

impl RenewalLease<'_> {
    /// Whether this renewal still holds the lease (extended now): asked just before a
    /// refresh token is presented.
    fn confirm(&self) -> bool {
        let manager = self.manager;
        let extend = || manager.store.extend_lease(self.org_id.to_owned(), self.owner.clone(), manager.config.lease_ttl_ms);
        !manager.coordinated || guarded(extend).unwrap_or(false)
    }

    /// Runs `work` while a heartbeat extends the lease every third of its TTL, so a
    /// slow server cannot outlive it. If the heartbeat finds the lease lost, the
    /// compare-and-set save still keeps the record from going backwards.
    fn kept_alive<T>(&self, work: impl FnOnce() -> T) -> T {
        let manager = self.manager;
        if !manager.coordinated {
            return work();
        }
        let every = Duration::from_millis(manager.config.lease_ttl_ms / 3);
        let (done, stopped) = mpsc::channel::<()>();
        thread::scope(|scope| {
            let heartbeat = move || {
                while stopped.recv_timeout(every) == Err(RecvTimeoutError::Timeout) {
                    let extend = || manager.store.extend_lease(self.org_id.to_owned(), self.owner.clone(), manager.config.lease_ttl_ms);
                    match guarded(extend) {
                        Ok(true) => {}
                        Ok(false) => return events::lease_lost(self.org_id),
                        Err(err) => events::store_failed(self.org_id, "extend lease", &err),
                    }
                }
            };
            // Without a thread (the OS refused one) the lease's TTL still bounds it.
            let _ = thread::Builder::new().name("cobo-oauth-lease".into()).spawn_scoped(scope, heartbeat);
            let result = work();
            drop(done);
            result
        })
    }
}

impl Drop for RenewalLease<'_> {
    fn drop(&mut self) {
        let release = || self.manager.store.release_lease(self.org_id.to_owned(), self.owner.clone());
        let _ = guarded(release).inspect_err(|err| events::store_failed(self.org_id, "release lease", err));
    }
}

/// Failures that say nothing about the tokens: retrying later may succeed.
fn transient(err: &CoboOAuthError) -> bool {
    matches!(
        err,
        CoboOAuthError::Transport { .. }
            | CoboOAuthError::Timeout { .. }
            | CoboOAuthError::Unavailable { .. }
            | CoboOAuthError::Server { .. }
            | CoboOAuthError::Store { .. }
    )
}

/// Whether serving the org touches the store first: its token not read yet, or a save
/// that failed to retry.
fn needs_store(org: &Org) -> bool {
    let state = lock(&org.state);
    state.token.is_none() || state.unsaved
}

/// A store's error without the tokens it was given or could have read: a database
/// driver may quote the values of a failed statement (SQLAlchemy's `[parameters: …]`,
/// MySQL's "Duplicate entry"), and the text reaches logs and callers.
fn scrubbed<'a>(err: CoboOAuthError, tokens: impl IntoIterator<Item = &'a StoredToken>) -> CoboOAuthError {
    let CoboOAuthError::Store { mut reason } = err else { return err };
    for stored in tokens {
        for secret in [&stored.token.access_token, &stored.token.refresh_token] {
            if !secret.expose().is_empty() {
                reason = reason.replace(secret.expose(), "<redacted>");
            }
        }
    }
    CoboOAuthError::Store { reason }
}

/// A refusal of the request rather than of its grant: no token is spent or revoked.
fn refuses_request(err: &CoboOAuthError) -> bool {
    matches!(err, CoboOAuthError::OAuth { status: 401 | 429, .. })
}

/// Exponential from `backoff_initial_ms`, capped, with equal jitter.
fn backoff(config: &TokenManagerConfig, failures: u32) -> Duration {
    let doubled = config.backoff_initial_ms.saturating_mul(1u64.checked_shl(failures - 1).unwrap_or(u64::MAX));
    crate::random::equal_jitter(Duration::from_millis(doubled.min(config.backoff_max_ms)))
}

/// Runs store code, turning a panic (a Rust store's `unwrap`, a Python store's
/// `PanicException`) into a `Store` error.
fn guarded<T>(call: impl FnOnce() -> Result<T, CoboOAuthError>) -> Result<T, CoboOAuthError> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|panic| Err(panicked("the token store", panic)))
}

fn panicked(what: &str, panic: Box<dyn std::any::Any + Send>) -> CoboOAuthError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let first_line = message.lines().next().unwrap_or("no message");
    CoboOAuthError::Store { reason: format!("{what} panicked: {first_line}") }
}

/// Whether Cobo's refusal of an org_implicit grant means the org withdrew the app. A
/// wrong key or client_id (401 invalid_client) or a malformed request (400) is the
/// app's own problem: those keep the stored tokens and surface as OAuth errors.
fn revoked(status: u16, error: &str) -> bool {
    status == 403 || matches!(error, "unauthorized_client" | "invalid_grant" | "access_denied")
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
