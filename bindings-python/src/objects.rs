//! The UDL's interfaces: `AppKey`, `ResponseVerifier`, `OAuthClient`. Each is frozen
//! (no interior mutability on the Python side), so one instance can be shared by threads;
//! each method extracts its arguments, calls the core with the interpreter released
//! (network calls, and Ed25519 signing and verifying, ~15-50 µs each), and converts the
//! error. `OAuthClient`'s `_…_async` methods start a call on the core's I/O thread and
//! return at once (completions.rs).

use std::sync::Arc;

use cobo_oauth::Secret;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::completions::{Call, Completions};
use crate::convert::{bytes_arg, environment_from_py, environment_name};
use crate::errors::Error;
use crate::records::{ClientConfig, OrgToken, SignedRequest};

/// The Portal App's Ed25519 key. Its `repr` shows only the API key.
#[pyclass(frozen, module = "cobo_oauth")]
pub(crate) struct AppKey {
    pub(crate) inner: Arc<cobo_oauth::AppKey>,
}

#[pymethods]
impl AppKey {
    /// From a 64-hex-char seed, or the 128-hex-char seed||public form (halves checked).
    #[new]
    fn new(private_key_hex: String) -> Result<Self, Error> {
        let key = cobo_oauth::AppKey::new(Secret::new(private_key_hex))?;
        Ok(AppKey { inner: Arc::new(key) })
    }

    /// A fresh random key pair from the operating system's CSPRNG.
    #[classmethod]
    fn generate(_cls: &Bound<'_, PyType>) -> Result<Self, Error> {
        Ok(AppKey { inner: Arc::new(cobo_oauth::AppKey::generate()?) })
    }

    /// The public key as hex: the API key registered with Cobo.
    fn api_key(&self) -> String {
        self.inner.api_key()
    }

    /// The 64-hex-char seed, to store a generated key. Handle with care.
    fn private_key_hex(&self) -> String {
        self.inner.private_key_hex().expose().to_owned()
    }

    /// Signs one request with a fresh nonce (the time in ms, strictly increasing). Does no I/O.
    #[pyo3(
        signature = (method, path, query = String::new(), body = String::new()),
        text_signature = "($self, method, path, query='', body='')"
    )]
    fn sign_request(&self, py: Python<'_>, method: String, path: String, query: String, body: String) -> SignedRequest {
        py.detach(|| self.inner.sign_request(method, path, query, body)).into()
    }

    /// As sign_request, with a caller-chosen nonce (for test vectors and debugging).
    fn sign_request_with_nonce(
        &self,
        py: Python<'_>,
        method: String,
        path: String,
        query: String,
        body: String,
        nonce: String,
    ) -> SignedRequest {
        py.detach(|| self.inner.sign_request_with_nonce(method, path, query, body, nonce)).into()
    }

    fn __repr__(&self) -> String {
        format!("AppKey(api_key='{}')", self.inner.api_key())
    }
}

/// Checks Cobo's response signatures with one public key.
#[pyclass(frozen, module = "cobo_oauth")]
pub(crate) struct ResponseVerifier {
    inner: cobo_oauth::ResponseVerifier,
    description: String,
}

#[pymethods]
impl ResponseVerifier {
    /// Checks signatures made with the environment's Cobo key.
    #[new]
    fn new(environment: &Bound<'_, PyAny>) -> PyResult<Self> {
        let environment = environment_from_py(environment)?;
        Ok(ResponseVerifier {
            inner: cobo_oauth::ResponseVerifier::new(environment),
            description: format!("environment=Environment.{}", environment_name(environment)),
        })
    }

    /// Checks signatures made with this Cobo public key (64 hex chars).
    #[classmethod]
    fn with_key(_cls: &Bound<'_, PyType>, public_key_hex: String) -> Result<Self, Error> {
        let description = format!("public_key_hex='{}'", public_key_hex.trim().to_ascii_lowercase());
        Ok(ResponseVerifier { inner: cobo_oauth::ResponseVerifier::with_key(public_key_hex)?, description })
    }

    /// Returns when `signature` is Cobo's over `<body>|<timestamp>`; raises
    /// ResponseSignatureError otherwise. Does no I/O.
    fn verify(&self, py: Python<'_>, body: &Bound<'_, PyAny>, timestamp: String, signature: String) -> PyResult<()> {
        let body = bytes_arg(body, "body")?;
        Ok(py.detach(|| self.inner.verify(body, timestamp, signature)).map_err(Error)?)
    }

    /// A webhook or callback delivery with this verifier's key: see `verify_delivery`.
    #[pyo3(signature = (body, headers, max_age_secs = 300))]
    fn verify_delivery(
        &self,
        py: Python<'_>,
        body: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        max_age_secs: u64,
    ) -> PyResult<()> {
        let body = bytes_arg(body, "body")?;
        let headers = crate::delivery::headers_arg(headers)?;
        Ok(py.detach(|| self.inner.verify_delivery(body, headers, max_age_secs)).map_err(Error)?)
    }

    fn __repr__(&self) -> String {
        format!("ResponseVerifier({})", self.description)
    }
}

/// Calls Cobo's OAuth endpoints over one connection pool; share it between threads.
#[pyclass(frozen, module = "cobo_oauth")]
pub(crate) struct OAuthClient {
    pub(crate) inner: Arc<cobo_oauth::OAuthClient>,
    /// The same client, for `AsyncOAuthClient`'s calls, which run on the core's I/O thread.
    asynchronous: cobo_oauth::AsyncOAuthClient,
    api_key: String,
}

#[pymethods]
impl OAuthClient {
    /// Checks `config` (None: the defaults, production). Does no network I/O.
    #[new]
    #[pyo3(signature = (key, config = None))]
    fn new(key: &Bound<'_, AppKey>, config: Option<&Bound<'_, ClientConfig>>) -> Result<Self, Error> {
        let key = Arc::clone(&key.get().inner);
        let api_key = key.api_key();
        let config = config.map_or_else(cobo_oauth::ClientConfig::default, |c| c.get().to_core());
        let inner = Arc::new(cobo_oauth::OAuthClient::new(key, config)?);
        Ok(OAuthClient { asynchronous: cobo_oauth::AsyncOAuthClient::new(Arc::clone(&inner)), inner, api_key })
    }

    /// The base URL requests go to, e.g. https://api.cobo.com/v2.
    fn base_url(&self) -> String {
        self.inner.base_url()
    }

    /// GET /oauth/token, grant org_implicit: one request, more on retryable failures.
    fn get_org_token(&self, py: Python<'_>, client_id: String, org_id: String) -> Result<OrgToken, Error> {
        Ok(py.detach(|| self.inner.get_org_token(client_id, org_id))?.into())
    }

    /// POST /oauth/token, grant refresh_token. The old refresh token is spent once this
    /// reaches Cobo: store the returned one. Never replayed after the connection opened.
    fn refresh_org_token(&self, py: Python<'_>, client_id: String, refresh_token: String) -> Result<OrgToken, Error> {
        let refresh_token = Secret::new(refresh_token);
        Ok(py.detach(|| self.inner.refresh_org_token(client_id, refresh_token))?.into())
    }

    /// For `AsyncOAuthClient`: starts `get_org_token` on the core's I/O thread and
    /// returns what the task awaits, a call of `completions`' loop.
    fn _get_org_token_async(&self, py: Python<'_>, client_id: String, org_id: String, completions: &Completions) -> PyResult<Py<Call>> {
        let (call, notify) = completions.start(py, org_token)?;
        py.detach(|| self.asynchronous.get_org_token_then(client_id, org_id, notify)).map_err(Error)?;
        Ok(call)
    }

    /// For `AsyncOAuthClient`: `refresh_org_token` as `_get_org_token_async` does `get_org_token`.
    fn _refresh_org_token_async(
        &self,
        py: Python<'_>,
        client_id: String,
        refresh_token: String,
        completions: &Completions,
    ) -> PyResult<Py<Call>> {
        let (call, notify) = completions.start(py, org_token)?;
        let refresh_token = Secret::new(refresh_token);
        py.detach(|| self.asynchronous.refresh_org_token_then(client_id, refresh_token, notify)).map_err(Error)?;
        Ok(call)
    }

    fn __repr__(&self) -> String {
        format!("OAuthClient(base_url='{}', api_key='{}')", self.inner.base_url(), self.api_key)
    }
}

/// What an async call's task gets: the `OrgToken` the blocking call returns.
fn org_token(py: Python<'_>, token: cobo_oauth::OrgToken) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, OrgToken::from(token))?.into_any())
}
