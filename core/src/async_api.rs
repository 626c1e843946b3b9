//! Futures over the core, for async callers (tokio, Kotlin coroutines, Swift
//! concurrency, Python's asyncio); any executor may poll them.
//!
//! A fresh cached token is ready on the first poll, on the caller's thread; a caller
//! that must wait subscribes to the org's one renewal in flight (a waker, not a thread),
//! and that renewal runs on a pool thread, shared with blocking callers. A token call
//! therefore never blocks an executor and costs at most one thread per renewal, whatever
//! the number of waiters (the pool is bounded: many orgs renewing at once take turns).
//! `AsyncOAuthClient`'s calls run on the I/O thread (runtime.rs), no pool thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::Error;
use crate::sync::lock;
use crate::{CoboOAuthError, OAuthClient, OrgToken, Secret, StoredToken, TokenManager};

/// A TokenManager's token calls as futures. Share the TokenManager with blocking
/// callers: both kinds wait for the same renewal.
pub struct AsyncTokenManager {
    manager: Arc<TokenManager>,
}

impl AsyncTokenManager {
    pub fn new(manager: Arc<TokenManager>) -> Self {
        AsyncTokenManager { manager }
    }

    /// The org's current token: ready at once from the cache, else the renewal's.
    pub async fn token(&self, org_id: String) -> Result<StoredToken, CoboOAuthError> {
        let (notify, outcome) = channel();
        match self.manager.token_or_notify(org_id, notify) {
            Some(ready) => ready,
            None => outcome.await,
        }
    }

    /// A valid access token for the org.
    pub async fn access_token(&self, org_id: String) -> Result<Secret, CoboOAuthError> {
        Ok(self.token(org_id).await?.token.access_token)
    }

    /// `Bearer <access token>`.
    pub async fn authorization_header(&self, org_id: String) -> Result<Secret, CoboOAuthError> {
        Ok(Secret::new(format!("Bearer {}", self.access_token(org_id).await?.expose())))
    }

    /// The access token when the cache serves it as it is (`TokenManager::cached`), else
    /// None. Never waits: the fast path of `access_token` for bindings whose futures cost
    /// more than a call (Swift's).
    pub fn cached_access_token(&self, org_id: String) -> Option<Secret> {
        self.manager.cached(&org_id).map(|stored| stored.token.access_token)
    }
}

/// Swift's fast path, outside the UDL (no binding's API; core/uniffi.toml keeps it out of
/// Kotlin): `cached_access_token` with an empty Secret for None, since UniFFI's Swift reads
/// an optional through Foundation's `Data`, which costs more than the call itself.
#[uniffi::export]
impl AsyncTokenManager {
    pub fn cached_access_token_or_empty(&self, org_id: String) -> Secret {
        self.cached_access_token(org_id).unwrap_or_else(|| Secret::new(String::new()))
    }
}

/// An OAuthClient's two calls as futures: each runs on the I/O thread (runtime.rs) and
/// completes when it ends, whatever executor awaits it.
pub struct AsyncOAuthClient {
    client: Arc<OAuthClient>,
}

impl AsyncOAuthClient {
    pub fn new(client: Arc<OAuthClient>) -> Self {
        AsyncOAuthClient { client }
    }

    /// `OAuthClient::get_org_token`, off the caller's thread.
    pub async fn get_org_token(&self, client_id: String, org_id: String) -> Result<OrgToken, CoboOAuthError> {
        let (notify, outcome) = channel();
        self.get_org_token_then(client_id, org_id, notify)?;
        outcome.await
    }

    /// `OAuthClient::refresh_org_token`, off the caller's thread.
    pub async fn refresh_org_token(&self, client_id: String, refresh_token: Secret) -> Result<OrgToken, CoboOAuthError> {
        let (notify, outcome) = channel();
        self.refresh_org_token_then(client_id, refresh_token, notify)?;
        outcome.await
    }

    /// `get_org_token` for callers with an event loop of their own (Python's asyncio):
    /// returns at once and calls `notify` with the outcome from the I/O thread, which
    /// `notify` must not block. Err (and `notify` never called) only if there is no I/O
    /// thread.
    pub fn get_org_token_then(
        &self,
        client_id: String,
        org_id: String,
        notify: impl FnOnce(Result<OrgToken, CoboOAuthError>) + Send + 'static,
    ) -> Result<(), CoboOAuthError> {
        let client = Arc::clone(&self.client);
        on_the_io_thread(async move { client.org_implicit(client_id, org_id, client.deadline()).await }, notify)
    }

    /// `refresh_org_token` as `get_org_token_then` does `get_org_token`.
    pub fn refresh_org_token_then(
        &self,
        client_id: String,
        refresh_token: Secret,
        notify: impl FnOnce(Result<OrgToken, CoboOAuthError>) + Send + 'static,
    ) -> Result<(), CoboOAuthError> {
        let client = Arc::clone(&self.client);
        on_the_io_thread(async move { client.refresh(client_id, refresh_token, client.deadline()).await }, notify)
    }
}

/// Runs a call's future on the I/O thread, which hands its outcome to `notify`.
fn on_the_io_thread(
    call: impl Future<Output = Result<OrgToken, Error>> + Send + 'static,
    notify: impl FnOnce(Result<OrgToken, CoboOAuthError>) + Send + 'static,
) -> Result<(), CoboOAuthError> {
    Ok(crate::runtime::spawn(call, |outcome| notify(outcome.map_err(CoboOAuthError::from)))?)
}

impl std::fmt::Debug for AsyncTokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AsyncTokenManager").field(&self.manager).finish()
    }
}

impl std::fmt::Debug for AsyncOAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AsyncOAuthClient").field(&self.client).finish()
    }
}

/// A one-shot channel: the sender is a callback, the receiver a runtime-agnostic
/// future. A receiver dropped first (a cancelled caller) leaves the sender harmless.
fn channel<T: Send + 'static>() -> (impl FnOnce(Result<T, CoboOAuthError>) + Send + 'static, Outcome<T>) {
    let slot = Arc::new(Mutex::new(Slot::Waiting(None)));
    let sender = Arc::clone(&slot);
    let notify = move |result| {
        let waker = match std::mem::replace(&mut *lock(&sender), Slot::Done(result)) {
            Slot::Waiting(waker) => waker,
            Slot::Done(_) | Slot::Taken => None,
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    };
    (notify, Outcome { slot })
}

enum Slot<T> {
    Waiting(Option<Waker>),
    Done(Result<T, CoboOAuthError>),
    Taken,
}

struct Outcome<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Future for Outcome<T> {
    type Output = Result<T, CoboOAuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = lock(&self.slot);
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Done(result) => Poll::Ready(result),
            Slot::Waiting(_) => {
                *slot = Slot::Waiting(Some(cx.waker().clone()));
                Poll::Pending
            }
            Slot::Taken => Poll::Ready(Err(CoboOAuthError::InvalidArgument { reason: "polled after completion".into() })),
        }
    }
}
