//! An OAuthClient's calls as futures: each runs whole on the I/O thread (runtime.rs) and
//! completes when it ends, whatever executor awaits it; no pool thread.

use std::future::Future;
use std::sync::Arc;

use crate::error::Error;
use crate::http::client::{OAuthClient, OrgToken};
use crate::http::runtime::callback_channel;
use crate::{CoboOAuthError, Secret};

/// An OAuthClient's two calls as futures: each runs on the I/O thread (runtime.rs) and
/// completes when it ends, whatever executor awaits it.
#[derive(Debug)]
pub struct AsyncOAuthClient {
    client: Arc<OAuthClient>,
}

impl AsyncOAuthClient {
    pub fn new(client: Arc<OAuthClient>) -> Self {
        AsyncOAuthClient { client }
    }

    /// `OAuthClient::get_org_token`, off the caller's thread.
    pub async fn get_org_token(&self, client_id: String, org_id: String) -> Result<OrgToken, CoboOAuthError> {
        let (notify, outcome) = callback_channel();
        self.get_org_token_then(client_id, org_id, notify)?;
        outcome.await
    }

    /// `OAuthClient::refresh_org_token`, off the caller's thread.
    pub async fn refresh_org_token(&self, client_id: String, refresh_token: Secret) -> Result<OrgToken, CoboOAuthError> {
        let (notify, outcome) = callback_channel();
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
    Ok(crate::http::runtime::spawn(call, |outcome| notify(outcome.map_err(CoboOAuthError::from)))?)
}
