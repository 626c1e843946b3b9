//! The UDL's dictionaries as frozen Python records: `OrgToken`, `TokenLease`,
//! `SignedRequest`, `ClientConfig`. Their `repr` never shows a token, a key or a signed body.

use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::convert::{aware_datetime, environment_from_py, environment_name, in_range, Env, Int, UtcTime};

/// Python's `repr` of a string ('…' quoting and escapes), for the records' reprs.
pub(crate) fn quoted(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(PyString::new(py, text).repr()?.to_string())
}

/// The inside of a record's repr, one rule for every record: `field=repr(field), ...` in
/// the order given, with `'…'` for each `hidden` field that is set (a token, a signed body).
pub(crate) fn fields_repr(record: &Bound<'_, PyAny>, fields: &[&str], hidden: &[&str]) -> PyResult<String> {
    let mut shown = Vec::with_capacity(fields.len());
    for &field in fields {
        let value = record.getattr(field)?;
        let value = if hidden.contains(&field) && !value.is_none() { "'…'".to_owned() } else { value.repr()?.to_string() };
        shown.push(format!("{field}={value}"));
    }
    Ok(shown.join(", "))
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

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let fields = ["access_token", "token_type", "scope", "expires_in", "refresh_token", "expires_at"];
        Ok(format!("OrgToken({})", fields_repr(slf, &fields, &["access_token", "refresh_token"])?))
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

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        Ok(format!("TokenLease({})", fields_repr(slf, &["access_token", "serve_until"], &["access_token"])?))
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
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let fields = ["api_key", "nonce", "signature", "content", "digest"];
        Ok(format!("SignedRequest({})", fields_repr(slf, &fields, &["content"])?))
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

    /// The environment as `Environment.PROD`, shorter than the enum's own repr.
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let fields = ["base_url", "response_public_key", "connect_timeout_ms", "timeout_ms", "user_agent", "max_retries",
            "retry_base_delay_ms", "retry_max_delay_ms", "total_timeout_ms", "extra_ca_pem", "proxy_url"];
        // A PEM is long and public: its presence is what a reader needs. A proxy URL may
        // carry credentials.
        let shown = fields_repr(slf, &fields, &["extra_ca_pem", "proxy_url"])?;
        Ok(format!("ClientConfig(environment=Environment.{}, {shown})", environment_name(slf.get().environment.0)))
    }
}
