//! Client configuration and the rules a configuration must meet.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::Error;
use crate::secret::Secret;
use crate::auth::environment::Environment;
use crate::auth::verify::ResponseVerifier;

/// How an `OAuthClient` reaches Cobo. The defaults match the UDL's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub environment: Environment,
    pub base_url: Option<String>,
    pub response_public_key: Option<String>,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
    pub user_agent: Option<String>,
    pub max_retries: u32,
    pub retry_base_delay_ms: u64,
    pub retry_max_delay_ms: u64,
    pub total_timeout_ms: u64,
    /// PEM text of CA certificates to trust besides the platform's roots.
    pub extra_ca_pem: Option<String>,
    /// An http:// or https:// proxy for https requests, credentials in its userinfo.
    /// A `Secret` because of those credentials. Unset: the environment's proxy settings.
    pub proxy_url: Option<Secret>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            environment: Environment::Prod,
            base_url: None,
            response_public_key: None,
            connect_timeout_ms: 5_000,
            timeout_ms: 30_000,
            user_agent: None,
            max_retries: 2,
            retry_base_delay_ms: 200,
            retry_max_delay_ms: 2_000,
            total_timeout_ms: 60_000,
            extra_ca_pem: None,
            proxy_url: None,
        }
    }
}

/// Bounded retries; the caps keep a misconfiguration from hammering Cobo or
/// sleeping for ever.
const MAX_RETRIES_CAP: u32 = 10;
const MAX_RETRY_DELAY_MS_CAP: u64 = 60_000;
/// A day: longer is a mistake, and `Instant` arithmetic stays far from overflow.
const MAX_TOTAL_TIMEOUT_MS: u64 = 24 * 3600 * 1000;

/// A checked configuration.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub token_url: reqwest::Url,
    pub base_url: String,
    pub verifier: ResponseVerifier,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub total_timeout: Duration,
    pub user_agent: String,
    pub retry: RetryPolicy,
    /// Unchecked here: `http::build` parses and checks TLS and proxy settings.
    pub extra_ca_pem: Option<String>,
    pub proxy_url: Option<Secret>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl ClientConfig {
    /// The defaults, pointed at `environment`.
    pub fn for_environment(environment: Environment) -> Self {
        ClientConfig { environment, ..Self::default() }
    }

    /// The defaults, pointed at a custom base URL signed with `response_public_key`.
    pub fn for_base_url(base_url: impl Into<String>, response_public_key: impl Into<String>) -> Self {
        ClientConfig {
            base_url: Some(base_url.into()),
            response_public_key: Some(response_public_key.into()),
            ..Self::default()
        }
    }

    /// Checks every rule and derives what the client needs. Does no I/O.
    pub(crate) fn resolve(&self) -> Result<Resolved, Error> {
        let (base_url, verifier) = match (&self.base_url, &self.response_public_key) {
            (None, _) => (
                self.environment.base_url().to_owned(),
                ResponseVerifier::new(self.environment),
            ),
            (Some(url), Some(key)) => (url.trim_end_matches('/').to_owned(), ResponseVerifier::parse(key)?),
            (Some(_), None) => {
                return Err(Error::Config(
                    "a custom base_url needs response_public_key, the key that signs its responses".into(),
                ))
            }
        };
        let token_url = token_url(&base_url)?;
        if self.connect_timeout_ms == 0 || self.timeout_ms == 0 || self.total_timeout_ms == 0 {
            return Err(Error::Config("timeouts must be greater than zero".into()));
        }
        if self.max_retries > MAX_RETRIES_CAP {
            return Err(Error::Config(format!("max_retries must be at most {MAX_RETRIES_CAP}")));
        }
        if self.retry_max_delay_ms > MAX_RETRY_DELAY_MS_CAP {
            return Err(Error::Config(format!("retry_max_delay_ms must be at most {MAX_RETRY_DELAY_MS_CAP}")));
        }
        if self.retry_base_delay_ms > self.retry_max_delay_ms {
            return Err(Error::Config("retry_base_delay_ms must not exceed retry_max_delay_ms".into()));
        }
        let user_agent = match &self.user_agent {
            Some(agent) if agent.chars().any(char::is_control) => {
                return Err(Error::Config("user_agent must not contain control characters".into()))
            }
            Some(agent) => agent.clone(),
            None => concat!("cobo-oauth/", env!("CARGO_PKG_VERSION")).to_owned(),
        };
        Ok(Resolved {
            token_url,
            base_url,
            verifier,
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            timeout: Duration::from_millis(self.timeout_ms),
            total_timeout: Duration::from_millis(self.total_timeout_ms.min(MAX_TOTAL_TIMEOUT_MS)),
            user_agent,
            retry: RetryPolicy {
                max_retries: self.max_retries,
                base_delay: Duration::from_millis(self.retry_base_delay_ms),
                max_delay: Duration::from_millis(self.retry_max_delay_ms),
            },
            extra_ca_pem: self.extra_ca_pem.clone(),
            proxy_url: self.proxy_url.clone(),
        })
    }
}

/// `<base>/oauth/token`; https, or http to a loopback host (a local mock or proxy).
fn token_url(base_url: &str) -> Result<reqwest::Url, Error> {
    let url = reqwest::Url::parse(&format!("{base_url}/oauth/token"))
        .map_err(|e| Error::Config(format!("base_url is not a valid URL: {e}")))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config("base_url must not carry a query, fragment or credentials".into()));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(Error::Config("http:// is only allowed for loopback hosts; use https://".into())),
        other => Err(Error::Config(format!("unsupported URL scheme {other:?}"))),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}
