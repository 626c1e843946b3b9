//! The TokenManager: cached org tokens renewed by the clock, one renewal per org at a
//! time, rotated refresh tokens saved before anyone uses them.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use crate::store::{memory_token_store, StoredToken, TokenStore};
use crate::sync::lock;
use crate::{CoboOAuthError, OAuthClient, Secret};

/// How a TokenManager decides a token needs renewing. Defaults match the UDL's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenManagerConfig {
    pub refresh_margin_secs: u64,
    pub refresh_token_lifetime_secs: u64,
}

impl Default for TokenManagerConfig {
    fn default() -> Self {
        TokenManagerConfig { refresh_margin_secs: 300, refresh_token_lifetime_secs: 30 * 24 * 3600 }
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
    store: Arc<dyn TokenStore>,
    margin: Duration,
    refresh_lifetime: Duration,
    orgs: Mutex<HashMap<String, Arc<Org>>>,
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
    /// A token the store failed to save: retried before the token is handed out.
    unsaved: bool,
    /// `invalidate` came before the store was asked: expire what it returns.
    invalidated: bool,
    /// Renewals started so far; the one in flight, if any, is `started`.
    started: u64,
    in_flight: bool,
    /// The outcome of renewal number `.0`, for the callers that waited for it.
    last: Option<(u64, Result<StoredToken, CoboOAuthError>)>,
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
        Ok(TokenManager {
            client,
            client_id,
            store: store.unwrap_or_else(memory_token_store),
            margin: Duration::from_secs(config.refresh_margin_secs),
            refresh_lifetime: Duration::from_secs(config.refresh_token_lifetime_secs),
            orgs: Mutex::new(HashMap::new()),
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

    /// The org's current token, renewed first when less than the margin is left.
    pub fn token(&self, org_id: String) -> Result<StoredToken, CoboOAuthError> {
        require_org(&org_id)?;
        let org = self.org(&org_id);
        let mut state = lock(&org.state);
        self.load(&org_id, &mut state)?;
        if let Some(Some(current)) = &state.token {
            if self.fresh(current) {
                let current = current.clone();
                if state.unsaved {
                    self.store.save(org_id, current.clone())?;
                    state.unsaved = false;
                }
                return Ok(current);
            }
        }
        if state.in_flight {
            // Someone is renewing: wait for that renewal and share its outcome.
            let awaited = state.started;
            loop {
                state = org.renewed.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
                // A later renewal may already have finished too; its outcome is newer.
                if let Some((number, outcome)) = &state.last {
                    if *number >= awaited {
                        return outcome.clone();
                    }
                }
            }
        }
        state.started += 1;
        state.in_flight = true;
        let number = state.started;
        let current = state.token.clone().flatten();
        drop(state);

        let outcome = self.renew(&org_id, current);

        let mut state = lock(&org.state);
        let result = match outcome {
            Renewal::Issued(token) => {
                let saved = self.store.save(org_id.clone(), token.clone());
                state.unsaved = saved.is_err();
                state.token = Some(Some(token.clone()));
                saved.map(|()| token)
            }
            Renewal::Revoked(err) => {
                state.token = Some(None);
                state.unsaved = false;
                // The tokens are dead either way; a failed delete must not hide why.
                let _ = self.store.delete(org_id.clone());
                Err(err)
            }
            Renewal::Failed(err) => Err(err),
        };
        state.in_flight = false;
        state.last = Some((number, result.clone()));
        org.renewed.notify_all();
        result
    }

    /// The access token and the instant until which a binding may hand it out from its
    /// own cache without asking again: the start of the refresh margin. A binding's
    /// cache must drop the lease when it invalidates the token.
    pub fn lease(&self, org_id: String) -> Result<TokenLease, CoboOAuthError> {
        let stored = self.token(org_id)?;
        let serve_until = stored.token.expires_at.checked_sub(self.margin).unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(TokenLease { access_token: stored.token.access_token, serve_until })
    }

    /// When the org's refresh token expires, if a token is known. No network I/O.
    pub fn refresh_token_expires_at(&self, org_id: String) -> Result<Option<SystemTime>, CoboOAuthError> {
        require_org(&org_id)?;
        let org = self.org(&org_id);
        let mut state = lock(&org.state);
        self.load(&org_id, &mut state)?;
        Ok(state.token.clone().flatten().map(|stored| stored.refresh_expires_at))
    }

    /// Drops the cached access token; the refresh token stays.
    pub fn invalidate(&self, org_id: String) {
        let org = self.org(&org_id);
        let mut state = lock(&org.state);
        match &mut state.token {
            Some(Some(stored)) => stored.token.expires_at = SystemTime::UNIX_EPOCH,
            Some(None) => {}
            None => state.invalidated = true,
        }
    }

    fn org(&self, org_id: &str) -> Arc<Org> {
        lock(&self.orgs).entry(org_id.to_owned()).or_default().clone()
    }

    fn load(&self, org_id: &str, state: &mut OrgState) -> Result<(), CoboOAuthError> {
        if state.token.is_none() {
            let mut loaded = self.store.load(org_id.to_owned())?;
            if std::mem::take(&mut state.invalidated) {
                if let Some(stored) = &mut loaded {
                    stored.token.expires_at = SystemTime::UNIX_EPOCH;
                }
            }
            state.token = Some(loaded);
        }
        Ok(())
    }

    fn fresh(&self, stored: &StoredToken) -> bool {
        stored.token.expires_at.duration_since(SystemTime::now()).is_ok_and(|left| left > self.margin)
    }

    /// Refreshes with the known refresh token when it is still alive; when Cobo refuses
    /// it (spent, expired, revoked) or there is none, asks for a new grant once.
    fn renew(&self, org_id: &str, current: Option<StoredToken>) -> Renewal {
        let usable = current.filter(|stored| stored.refresh_expires_at > SystemTime::now());
        if let Some(stored) = usable {
            match self.client.refresh_org_token(self.client_id.clone(), stored.token.refresh_token) {
                Ok(token) => return Renewal::Issued(self.stored(token)),
                Err(CoboOAuthError::OAuth { .. }) => {} // fall back to org_implicit below
                Err(transient) => return Renewal::Failed(transient),
            }
        }
        match self.client.get_org_token(self.client_id.clone(), org_id.to_owned()) {
            Ok(token) => Renewal::Issued(self.stored(token)),
            Err(CoboOAuthError::OAuth { status, error, error_description }) if revoked(status, &error) => {
                Renewal::Revoked(CoboOAuthError::AuthorizationRequired {
                    org_id: org_id.to_owned(),
                    status,
                    error,
                    error_description,
                })
            }
            Err(transient) => Renewal::Failed(transient),
        }
    }

    fn stored(&self, token: crate::OrgToken) -> StoredToken {
        let refresh_expires_at = SystemTime::now().checked_add(self.refresh_lifetime).unwrap_or(token.expires_at);
        StoredToken { token, refresh_expires_at }
    }
}

enum Renewal {
    Issued(StoredToken),
    /// Cobo refused every grant: the org's tokens are dead.
    Revoked(CoboOAuthError),
    /// Transient: the stored tokens stay as they are.
    Failed(CoboOAuthError),
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
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}
