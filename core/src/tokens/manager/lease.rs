//! The org's renewal lease in the store: taken before a renewal, confirmed just before
//! a refresh token is presented, kept alive by a heartbeat, released on drop.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use super::store_calls::guarded;
use crate::logging::events;
use crate::tokens::store::CoordinatedTokenStore;
use crate::CoboOAuthError;

pub(super) struct RenewalLease<'a> {
    store: &'a dyn CoordinatedTokenStore,
    /// Whether the store coordinates processes (else the lease is a formality).
    coordinated: bool,
    org_id: &'a str,
    owner: String,
    ttl_ms: u64,
}

impl<'a> RenewalLease<'a> {
    /// Takes the lease for a new owner if nobody holds it.
    pub(super) fn acquire(
        store: &'a dyn CoordinatedTokenStore,
        coordinated: bool,
        org_id: &'a str,
        ttl_ms: u64,
    ) -> Result<Option<Self>, CoboOAuthError> {
        let owner = format!("{}-{:016x}", std::process::id(), crate::util::random::u64());
        let acquired = guarded(|| store.acquire_lease(org_id.to_owned(), owner.clone(), ttl_ms))
            .inspect_err(|err| events::store_failed(org_id, "lease", err))?;
        Ok(acquired.then_some(RenewalLease { store, coordinated, org_id, owner, ttl_ms }))
    }

    fn extend(&self) -> Result<bool, CoboOAuthError> {
        guarded(|| self.store.extend_lease(self.org_id.to_owned(), self.owner.clone(), self.ttl_ms))
    }

    /// Whether this renewal still holds the lease (extended now): asked just before a
    /// refresh token is presented.
    pub(super) fn confirm(&self) -> bool {
        !self.coordinated || self.extend().unwrap_or(false)
    }

    /// Runs `work` while a heartbeat extends the lease every third of its TTL, so a
    /// slow server cannot outlive it. If the heartbeat finds the lease lost, the
    /// compare-and-set save still keeps the record from going backwards.
    pub(super) fn kept_alive<T>(&self, work: impl FnOnce() -> T) -> T {
        if !self.coordinated {
            return work();
        }
        let every = Duration::from_millis(self.ttl_ms / 3);
        let (done, stopped) = mpsc::channel::<()>();
        thread::scope(|scope| {
            let heartbeat = move || {
                while stopped.recv_timeout(every) == Err(RecvTimeoutError::Timeout) {
                    match self.extend() {
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
        let release = || self.store.release_lease(self.org_id.to_owned(), self.owner.clone());
        let _ = guarded(release).inspect_err(|err| events::store_failed(self.org_id, "release lease", err));
    }
}
