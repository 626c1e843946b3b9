//! The UDL's dictionaries as frozen Python records: `OrgToken`, `TokenLease`,
//! `SignedRequest`, `ClientConfig`. Their `repr` never shows a token, a key or a signed body.

use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::convert::{aware_datetime, environment_from_py, environment_name, in_range, Env, Int, UtcTime};

/// Python's `repr` of a string ('…' quoting and escapes), for the records' reprs.
pub(crate) fn quoted(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(PyString::new(py, text).repr()?.to_string())
}

fn optional_quoted(py: Python<'_>, text: Option<&str>) -> PyResult<String> {
    text.map_or_else(|| Ok("None".to_owned()), |text| quoted(py, text))
}

/// An Org Access Token as issued, with its absolute expiry computed at receipt.
#[pyclass(frozen, eq, hash, get_all, from_py_object, module = "cobo_oauth")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct OrgToken {
    access_token: String,
    token_type: String,
    scope: String,
    expires_in: i64,
    refresh_token: String,
    expires_at: UtcTime,
}

impl From<cobo_oauth::OrgToken> for OrgToken {
    fn from(token: cobo_oauth::OrgToken) -> Self {
        OrgToken {
            access_token: token.access_token.expose().to_owned(),
            refresh_token: token.refresh_token.expose().to_owned(),
            expires_at: token.expires_at.into(),
            token_type: token.token_type,
            scope: token.scope,
            expires_in: token.expires_in,
        }
    }
}

impl OrgToken {
    pub(crate) fn to_core(&self) -> cobo_oauth::OrgToken {
        cobo_oauth::OrgToken {
            access_token: cobo_oauth::Secret::new(self.access_token.clone()),
            token_type: self.token_type.clone(),
            scope: self.scope.clone(),
            expires_in: self.expires_in,
            refresh_token: cobo_oauth::Secret::new(self.refresh_token.clone()),
            expires_at: self.expires_at.into(),
        }
    }
}

#[pymethods]
impl OrgToken {
    #[new]
    #[pyo3(signature = (*, access_token, token_type, scope, expires_in, refresh_token, expires_at))]
    fn new(
        access_token: String,
        token_type: String,
        scope: String,
        expires_in: i64,
        refresh_token: String,
        expires_at: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        Ok(OrgToken {
            expires_at: aware_datetime(expires_at, "expires_at")?,
            access_token,
            token_type,
            scope,
            expires_in,
            refresh_token,
        })
    }

    pub(crate) fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "OrgToken(access_token='…', token_type={}, scope={}, expires_in={}, refresh_token='…', expires_at={})",
            quoted(py, &self.token_type)?,
            quoted(py, &self.scope)?,
            self.expires_in,
            self.expires_at.into_pyobject(py)?.repr()?,
        ))
    }
}

/// An access token and until when a cache outside the manager may serve it.
#[pyclass(frozen, eq, hash, get_all, module = "cobo_oauth")]
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct TokenLease {
    access_token: String,
    serve_until: UtcTime,
}

impl From<cobo_oauth::TokenLease> for TokenLease {
    fn from(lease: cobo_oauth::TokenLease) -> Self {
        TokenLease { access_token: lease.access_token.expose().to_owned(), serve_until: lease.serve_until.into() }
    }
}

#[pymethods]
impl TokenLease {
    #[new]
    #[pyo3(signature = (*, access_token, serve_until))]
    fn new(access_token: String, serve_until: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(TokenLease { serve_until: aware_datetime(serve_until, "serve_until")?, access_token })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("TokenLease(access_token='…', serve_until={})", self.serve_until.into_pyobject(py)?.repr()?))
    }
}

/// The CoboAuth headers for one request, plus what was signed.
#[pyclass(frozen, eq, hash, get_all, module = "cobo_oauth")]
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct SignedRequest {
    api_key: String,
    nonce: String,
    signature: String,
    content: String,
    digest: String,
}

impl From<cobo_oauth::SignedRequest> for SignedRequest {
    fn from(signed: cobo_oauth::SignedRequest) -> Self {
        let cobo_oauth::SignedRequest { api_key, nonce, signature, content, digest } = signed;
        SignedRequest { api_key, nonce, signature, content: content.expose().to_owned(), digest }
    }
}

#[pymethods]
impl SignedRequest {
    #[new]
    #[pyo3(signature = (*, api_key, nonce, signature, content, digest))]
    fn new(api_key: String, nonce: String, signature: String, content: String, digest: String) -> Self {
        SignedRequest { api_key, nonce, signature, content, digest }
    }

    /// `content` is elided: a refresh request's body holds the refresh token.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "SignedRequest(api_key={}, nonce={}, signature={}, content='…', digest={})",
            quoted(py, &self.api_key)?,
            quoted(py, &self.nonce)?,
            quoted(py, &self.signature)?,
            quoted(py, &self.digest)?,
        ))
    }
}

/// Where to send requests and how to check the answers; the defaults are the UDL's.
#[pyclass(frozen, eq, hash, get_all, module = "cobo_oauth")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClientConfig {
    environment: Env,
    base_url: Option<String>,
    response_public_key: Option<String>,
    connect_timeout_ms: u64,
    timeout_ms: u64,
    user_agent: Option<String>,
    max_retries: u32,
    retry_base_delay_ms: u64,
    retry_max_delay_ms: u64,
    total_timeout_ms: u64,
    extra_ca_pem: Option<String>,
    /// May carry proxy credentials: readable, never in `repr`.
    proxy_url: Option<String>,
}

impl ClientConfig {
    pub(crate) fn to_core(&self) -> cobo_oauth::ClientConfig {
        cobo_oauth::ClientConfig {
            environment: self.environment.0,
            base_url: self.base_url.clone(),
            response_public_key: self.response_public_key.clone(),
            connect_timeout_ms: self.connect_timeout_ms,
            timeout_ms: self.timeout_ms,
            user_agent: self.user_agent.clone(),
            max_retries: self.max_retries,
            retry_base_delay_ms: self.retry_base_delay_ms,
            retry_max_delay_ms: self.retry_max_delay_ms,
            total_timeout_ms: self.total_timeout_ms,
            extra_ca_pem: self.extra_ca_pem.clone(),
            proxy_url: self.proxy_url.clone().map(cobo_oauth::Secret::new),
        }
    }
}

#[pymethods]
impl ClientConfig {
    #[new]
    #[pyo3(signature = (
        *,
        environment = None,
        base_url = None,
        response_public_key = None,
        connect_timeout_ms = Int(5000),
        timeout_ms = Int(30000),
        user_agent = None,
        max_retries = Int(2),
        retry_base_delay_ms = Int(200),
        retry_max_delay_ms = Int(2000),
        total_timeout_ms = Int(60000),
        extra_ca_pem = None,
        proxy_url = None,
    ),
    text_signature = "(*, environment=None, base_url=None, response_public_key=None, connect_timeout_ms=5000, \
                      timeout_ms=30000, user_agent=None, max_retries=2, retry_base_delay_ms=200, retry_max_delay_ms=2000, \
                      total_timeout_ms=60000, \
                      extra_ca_pem=None, proxy_url=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        environment: Option<&Bound<'_, PyAny>>,
        base_url: Option<String>,
        response_public_key: Option<String>,
        connect_timeout_ms: Int,
        timeout_ms: Int,
        user_agent: Option<String>,
        max_retries: Int,
        retry_base_delay_ms: Int,
        retry_max_delay_ms: Int,
        total_timeout_ms: Int,
        extra_ca_pem: Option<String>,
        proxy_url: Option<String>,
    ) -> PyResult<Self> {
        Ok(ClientConfig {
            environment: Env(environment.map_or(Ok(cobo_oauth::Environment::Prod), environment_from_py)?),
            base_url,
            response_public_key,
            connect_timeout_ms: in_range(connect_timeout_ms, "connect_timeout_ms", u64::MAX)?,
            timeout_ms: in_range(timeout_ms, "timeout_ms", u64::MAX)?,
            user_agent,
            max_retries: in_range(max_retries, "max_retries", u64::from(u32::MAX))?,
            retry_base_delay_ms: in_range(retry_base_delay_ms, "retry_base_delay_ms", u64::MAX)?,
            retry_max_delay_ms: in_range(retry_max_delay_ms, "retry_max_delay_ms", u64::MAX)?,
            total_timeout_ms: in_range(total_timeout_ms, "total_timeout_ms", u64::MAX)?,
            extra_ca_pem,
            proxy_url,
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ClientConfig(environment=Environment.{}, base_url={}, response_public_key={}, connect_timeout_ms={}, \
             timeout_ms={}, user_agent={}, max_retries={}, retry_base_delay_ms={}, retry_max_delay_ms={}, \
             total_timeout_ms={}, extra_ca_pem={}, proxy_url={})",
            environment_name(self.environment.0),
            optional_quoted(py, self.base_url.as_deref())?,
            optional_quoted(py, self.response_public_key.as_deref())?,
            self.connect_timeout_ms,
            self.timeout_ms,
            optional_quoted(py, self.user_agent.as_deref())?,
            self.max_retries,
            self.retry_base_delay_ms,
            self.retry_max_delay_ms,
            self.total_timeout_ms,
            // A PEM is long and public: its presence is what a reader needs.
            if self.extra_ca_pem.is_some() { "'…'" } else { "None" },
            if self.proxy_url.is_some() { "'…'" } else { "None" },
        ))
    }
}
