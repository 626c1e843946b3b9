//! The single flight: one renewal (or save) per org at a time in this process, its
//! outcome shared by every caller that waited for it, blocked or subscribed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use super::org::{Org, OrgState, Subscriber};
use crate::http::client::Deadline;
use crate::tokens::store::StoredToken;
use crate::util::lock::lock;
use crate::CoboOAuthError;

/// The flight in progress. Landing it publishes its outcome; dropping it unlanded (a
/// panic unwinding past it, a thread the OS refused) publishes an error, so waiters
/// never wait for ever.
pub(super) struct Flight {
    org: Arc<Org>,
    number: u64,
    landed: bool,
}

impl Flight {
    /// Starts the org's next flight, to end by `deadline`.
    pub(super) fn start(org: &Arc<Org>, state: &mut OrgState, deadline: Deadline) -> Flight {
        state.started += 1;
        state.in_flight = Some(deadline);
        Flight { org: Arc::clone(org), number: state.started, landed: false }
    }

    pub(super) fn org(&self) -> &Arc<Org> {
        &self.org
    }

    /// Publishes `outcome` to the callers waiting for it: wakes the blocked ones, then
    /// tells the subscribers once the lock is released.
    pub(super) fn land(mut self, state: MutexGuard<'_, OrgState>, outcome: &Result<StoredToken, CoboOAuthError>) {
        self.publish(state, outcome);
    }

    fn publish(&mut self, mut state: MutexGuard<'_, OrgState>, outcome: &Result<StoredToken, CoboOAuthError>) {
        state.in_flight = None;
        state.last = Some((self.number, outcome.clone()));
        self.landed = true;
        self.org.renewed.notify_all();
        let subscribers = std::mem::take(&mut state.subscribers);
        drop(state);
        for subscriber in subscribers {
            // A subscriber that panics (a foreign callback) must not stop the others.
            let _ = catch_unwind(AssertUnwindSafe(|| subscriber(outcome.clone())));
        }
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        if !self.landed {
            let org = Arc::clone(&self.org);
            let aborted = Err(CoboOAuthError::Internal { reason: "the renewal was aborted".into() });
            self.publish(lock(&org.state), &aborted);
        }
    }
}

/// Subscribes to flight `awaited`, or returns its outcome if it has landed already.
pub(super) fn subscribe(
    state: &mut OrgState,
    awaited: u64,
    subscriber: Subscriber,
) -> Option<Result<StoredToken, CoboOAuthError>> {
    match &state.last {
        Some((number, outcome)) if *number >= awaited => Some(outcome.clone()),
        _ => {
            state.subscribers.push(subscriber);
            None
        }
    }
}

/// Waits for flight `awaited` and shares its outcome; gives up at its deadline.
pub(super) fn wait(org: &Org, mut state: MutexGuard<'_, OrgState>, awaited: u64) -> Result<StoredToken, CoboOAuthError> {
    loop {
        // A later flight may already have landed too; its outcome is newer.
        if let Some((number, outcome)) = &state.last {
            if *number >= awaited {
                return outcome.clone();
            }
        }
        // Slack past the flight's own deadline, for the store's save.
        let give_up = state.in_flight.map(|deadline| deadline + Duration::from_secs(5));
        let Some(left) = give_up.and_then(|at| at.checked_duration_since(Instant::now())) else {
            return Err(CoboOAuthError::Timeout { reason: "the renewal this call waited for did not end in time".into() });
        };
        state = org.renewed.wait_timeout(state, left).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
    }
}
