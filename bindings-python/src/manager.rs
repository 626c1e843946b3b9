//! The token manager: `TokenManagerConfig`, `TokenManager`. Every blocking manager
//! method runs the core with the interpreter released: it may wait for another thread's
//! renewal, make network requests, or call a Python store (which re-attaches).

use pyo3::prelude::*;

use crate::completions::{Call, Completions};
use crate::convert::{in_range, Int, UtcTime};
use crate::errors::Error;
use crate::objects::OAuthClient;
use crate::records::{fields_repr, quoted, TokenLease};
use crate::store::store_from_py;
use crate::stored::StoredToken;

/// How a TokenManager decides a token needs renewing; the defaults are the UDL's.
#[pyclass(frozen, eq, hash, get_all, module = "cobo_oauth")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct TokenManagerConfig {
    refresh_margin_secs: u64,
    refresh_token_lifetime_secs: u64,
    backoff_initial_ms: u64,
    backoff_max_ms: u64,
    lease_ttl_ms: u64,
}

impl TokenManagerConfig {
    fn to_core(&self) -> cobo_oauth::TokenManagerConfig {
        cobo_oauth::TokenManagerConfig {
            refresh_margin_secs: self.refresh_margin_secs,
            refresh_token_lifetime_secs: self.refresh_token_lifetime_secs,
            backoff_initial_ms: self.backoff_initial_ms,
            backoff_max_ms: self.backoff_max_ms,
            lease_ttl_ms: self.lease_ttl_ms,
        }
    }
}

#[pymethods]
impl TokenManagerConfig {
    #[new]
    #[pyo3(
        signature = (
            *,
            refresh_margin_secs = Int(300),
            refresh_token_lifetime_secs = Int(2_592_000),
            backoff_initial_ms = Int(1000),
            backoff_max_ms = Int(60_000),
            lease_ttl_ms = Int(10_000),
        ),
        text_signature = "(*, refresh_margin_secs=300, refresh_token_lifetime_secs=2592000, backoff_initial_ms=1000, \
                          backoff_max_ms=60000, lease_ttl_ms=10000)"
    )]
    fn new(
        refresh_margin_secs: Int,
        refresh_token_lifetime_secs: Int,
        backoff_initial_ms: Int,
        backoff_max_ms: Int,
        lease_ttl_ms: Int,
    ) -> PyResult<Self> {
        Ok(TokenManagerConfig {
            refresh_margin_secs: in_range(refresh_margin_secs, "refresh_margin_secs", u64::MAX)?,
            refresh_token_lifetime_secs: in_range(refresh_token_lifetime_secs, "refresh_token_lifetime_secs", u64::MAX)?,
            backoff_initial_ms: in_range(backoff_initial_ms, "backoff_initial_ms", u64::MAX)?,
            backoff_max_ms: in_range(backoff_max_ms, "backoff_max_ms", u64::MAX)?,
            lease_ttl_ms: in_range(lease_ttl_ms, "lease_ttl_ms", u64::MAX)?,
        })
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let fields = ["refresh_margin_secs", "refresh_token_lifetime_secs", "backoff_initial_ms", "backoff_max_ms", "lease_ttl_ms"];
        Ok(format!("TokenManagerConfig({})", fields_repr(slf, &fields, &[])?))
    }
}

/// Always-valid Org Access Tokens for one app; share one between threads.
#[pyclass(frozen, module = "cobo_oauth")]
pub(crate) struct TokenManager {
    inner: std::sync::Arc<cobo_oauth::TokenManager>,
    description: String,
}

#[pymethods]
impl TokenManager {
    /// `store`: a `TokenStore`, any object with `load`/`save`/`delete`, or None (memory).
    /// Does no I/O.
    #[new]
    #[pyo3(signature = (client, client_id, store = None, config = None))]
    fn new(
        py: Python<'_>,
        client: &Bound<'_, OAuthClient>,
        client_id: String,
        store: Option<&Bound<'_, PyAny>>,
        config: Option<&Bound<'_, TokenManagerConfig>>,
    ) -> PyResult<Self> {
        let store = store.map(store_from_py).transpose()?;
        let config = config.map_or_else(cobo_oauth::TokenManagerConfig::default, |c| c.get().to_core());
        let description = format!(
            "TokenManager(client_id={}, refresh_margin_secs={}, refresh_token_lifetime_secs={})",
            quoted(py, &client_id)?,
            config.refresh_margin_secs,
            config.refresh_token_lifetime_secs
        );
        let client = std::sync::Arc::clone(&client.get().inner);
        let inner = cobo_oauth::TokenManager::new(client, client_id, store, Some(config)).map_err(Error)?;
        Ok(TokenManager { inner: std::sync::Arc::new(inner), description })
    }

    /// For `AsyncTokenManager`: what the task awaits for the org's token (`whole`) or
    /// access token, a call of `completions`' loop: over at once if the cache can answer,
    /// else ended by the renewal in flight. Never blocks on a renewal, and never does
    /// store I/O on this thread (the core does it on a pool thread).
    fn _token_async(&self, py: Python<'_>, org_id: String, whole: bool, completions: &Completions) -> PyResult<Py<Call>> {
        // Only the access token unless the whole token was asked for: the common path
        // builds no datetimes.
        let convert = move |py: Python<'_>, stored: cobo_oauth::StoredToken| -> PyResult<Py<PyAny>> {
            Ok(match whole {
                true => Py::new(py, StoredToken::from(stored))?.into_any(),
                false => stored.token.access_token.expose().into_pyobject(py)?.into_any().unbind(),
            })
        };
        let (call, notify) = completions.start(py, convert)?;
        match py.detach(|| self.inner.token_or_notify(org_id, notify)) {
            None => Ok(call),
            Some(ready) => completions.ready(py, ready.map_err(|err| PyErr::from(Error(err))).and_then(|stored| convert(py, stored))),
        }
    }

    /// For `AsyncTokenManager`: the org's access token when the cache serves it as it is,
    /// else None. Never waits (the org busy counts as a miss), so it keeps the GIL.
    fn _cached_access_token(&self, org_id: &str) -> Option<String> {
        self.inner.cached(org_id).map(|stored| stored.token.access_token.expose().to_owned())
    }

    /// A valid access token for the org, renewed first if needed.
    fn access_token(&self, py: Python<'_>, org_id: String) -> Result<String, Error> {
        Ok(py.detach(|| self.inner.access_token(org_id))?.expose().to_owned())
    }

    /// "Bearer <access token>", for the Authorization header.
    fn authorization_header(&self, py: Python<'_>, org_id: String) -> Result<String, Error> {
        Ok(py.detach(|| self.inner.authorization_header(org_id))?.expose().to_owned())
    }

    /// The whole current token, renewed first if needed.
    fn token(&self, py: Python<'_>, org_id: String) -> Result<StoredToken, Error> {
        Ok(py.detach(|| self.inner.token(org_id))?.into())
    }

    /// The access token (renewed first if needed) and until when a cache of the caller's
    /// may serve it without asking again.
    fn lease(&self, py: Python<'_>, org_id: String) -> Result<TokenLease, Error> {
        Ok(py.detach(|| self.inner.lease(org_id))?.into())
    }

    /// When the org's refresh token expires, or None when no token is known.
    fn refresh_token_expires_at(&self, py: Python<'_>, org_id: String) -> Result<Option<UtcTime>, Error> {
        Ok(py.detach(|| self.inner.refresh_token_expires_at(org_id))?.map(UtcTime::from))
    }

    /// Expires the cached access token if it is still `access_token`; returns whether it was.
    fn invalidate(&self, py: Python<'_>, org_id: String, access_token: String) -> Result<bool, Error> {
        let access_token = cobo_oauth::Secret::new(access_token);
        // Detached too: the org's lock may be held by a thread waiting to call a Python store.
        Ok(py.detach(|| self.inner.invalidate(org_id, access_token))?)
    }

    /// Forgets the org: its tokens leave the cache and the store.
    fn forget(&self, py: Python<'_>, org_id: String) -> Result<(), Error> {
        Ok(py.detach(|| self.inner.forget(org_id))?)
    }

    fn __repr__(&self) -> String {
        self.description.clone()
    }
}
