//! The two OAuth calls over one reqwest client: signing, retries, response
//! verification and parsing. Each call is one future, awaited on the I/O thread by
//! async callers and polled on their own thread by blocking ones (runtime.rs).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use serde::Deserialize;

use crate::http::config::{ClientConfig, Resolved, RetryPolicy};
use crate::error::{CoboOAuthError, Error};
use crate::logging::events::{self, Operation};
use crate::util::fork_local::ForkLocal;
use crate::auth::keys::AppKey;
use crate::http::refusal::Refusal;
use crate::Secret;

/// An Org Access Token as issued. `Debug` hides both tokens (they are `Secret`s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgToken {
    pub access_token: Secret,
    pub token_type: String,
    pub scope: String,
    pub expires_in: i64,
    pub refresh_token: Secret,
    /// Receipt time plus `expires_in`: refresh by this clock, since Cobo answers an
    /// expired token with a 500, not a 401.
    pub expires_at: SystemTime,
}

/// Calls Cobo's OAuth endpoints; share it between threads.
#[derive(Debug)]
pub struct OAuthClient {
    key: Arc<AppKey>,
    http: ForkLocal<Http>,
    config: Arc<Resolved>,
}

/// reqwest's client. A forked child builds its own: the parent's connections belong to
/// an I/O thread the child does not have.
#[derive(Debug)]
struct Http {
    config: Arc<Resolved>,
    client: Result<Client, CoboOAuthError>,
}

impl Http {
    fn new(config: Arc<Resolved>) -> Self {
        let client = crate::http::transport::build(&config).map_err(CoboOAuthError::from);
        Http { config, client }
    }
}

/// When a call, or a renewal made of several calls, must have ended.
pub(crate) type Deadline = Instant;

impl OAuthClient {
    /// Checks the configuration and builds the HTTP client. Does no network I/O.
    pub fn new(key: Arc<AppKey>, config: ClientConfig) -> Result<Self, CoboOAuthError> {
        let config = Arc::new(config.resolve()?);
        let http = Http::new(Arc::clone(&config));
        if let Err(err) = &http.client {
            return Err(err.clone());
        }
        Ok(OAuthClient { key, http: ForkLocal::new(http, |parent| Http::new(Arc::clone(&parent.config))), config })
    }

    pub fn base_url(&self) -> String {
        self.config.base_url.clone()
    }

    pub(crate) fn app_key(&self) -> &Arc<AppKey> {
        &self.key
    }

    /// The deadline of a call (or renewal) that starts now: `total_timeout_ms` away.
    pub(crate) fn deadline(&self) -> Deadline {
        Instant::now() + self.config.total_timeout
    }

    /// GET /oauth/token with grant org_implicit: one request, more if it fails retryably.
    pub fn get_org_token(&self, client_id: String, org_id: String) -> Result<OrgToken, CoboOAuthError> {
        self.get_org_token_by(client_id, org_id, self.deadline())
    }

    /// POST /oauth/token with grant refresh_token. Once this reaches Cobo the old
    /// refresh token is spent: keep the returned one.
    pub fn refresh_org_token(&self, client_id: String, refresh_token: Secret) -> Result<OrgToken, CoboOAuthError> {
        self.refresh_org_token_by(client_id, refresh_token, self.deadline())
    }

    pub(crate) fn get_org_token_by(
        &self,
        client_id: String,
        org_id: String,
        deadline: Deadline,
    ) -> Result<OrgToken, CoboOAuthError> {
        Ok(crate::http::runtime::block_on(self.org_implicit(client_id, org_id, deadline))?)
    }

    pub(crate) fn refresh_org_token_by(
        &self,
        client_id: String,
        refresh_token: Secret,
        deadline: Deadline,
    ) -> Result<OrgToken, CoboOAuthError> {
        Ok(crate::http::runtime::block_on(self.refresh(client_id, refresh_token, deadline))?)
    }

    /// The GET's whole call (every attempt) as one future: `block_on` of it is
    /// `get_org_token`; `AsyncOAuthClient` runs it on the I/O thread.
    pub(crate) async fn org_implicit(&self, client_id: String, org_id: String, deadline: Deadline) -> Result<OrgToken, Error> {
        require("client_id", &client_id)?;
        require("org_id", &org_id)?;
        let mut url = self.config.token_url.clone();
        url.set_query(Some(&format!(
            "client_id={}&org_id={}&grant_type=org_implicit",
            form_encode(&client_id),
            form_encode(&org_id)
        )));
        self.send(Operation::OrgImplicit, deadline, |http| {
            let query = url.query().unwrap_or("");
            let signed = self.key.sign_request("GET".into(), url.path().into(), query.into(), String::new());
            with_auth(http.get(url.clone()), signed)
        })
        .await
    }

    /// The refresh's whole call as one future, as `org_implicit` is the GET's.
    pub(crate) async fn refresh(&self, client_id: String, refresh_token: Secret, deadline: Deadline) -> Result<OrgToken, Error> {
        require("client_id", &client_id)?;
        require("refresh_token", refresh_token.expose())?;
        let body = Secret::new(
            serde_json::json!({
                "client_id": client_id,
                "grant_type": "refresh_token",
                "refresh_token": refresh_token.expose(),
            })
            .to_string(),
        );
        self.send(Operation::Refresh, deadline, |http| {
            let url = &self.config.token_url;
            let signed = self.key.sign_request("POST".into(), url.path().into(), String::new(), body.expose().into());
            with_auth(http.post(url.clone()), signed)
                .header(CONTENT_TYPE, "application/json")
                .body(body.expose().to_owned())
        })
        .await
    }

    /// Sends a freshly signed request per attempt (a nonce is never reused) and
    /// retries what `replay` allows, with capped exponential backoff and full jitter.
    /// Each attempt, body included, ends by `timeout_ms` and by the deadline; no retry
    /// starts that the deadline would cut short.
    async fn send(
        &self,
        operation: Operation,
        deadline: Deadline,
        request: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<OrgToken, Error> {
        let http = self.http.get().client.as_ref().map_err(|err| Error::Config(err.to_string()))?;
        let retry = &self.config.retry;
        let mut attempt = 0;
        let mut resends = 0;
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero()) else {
                return Err(Error::Deadline);
            };
            // The request's timeout runs from connecting to the body's last byte, so a
            // dripping body ends too; the deadline may shorten it.
            let timeout = self.config.timeout.min(left);
            let started = Instant::now();
            let result = match request(http).timeout(timeout).send().await {
                Ok(response) => self.read(response).await,
                Err(err) => Err(Error::Http(err)),
            };
            let Err(err) = result else { return result };
            if matches!(err, Error::CoboAuthRefused { .. }) && resends < crate::http::refusal::COBOAUTH_RESENDS {
                // Refused before Cobo acted (a nonce another host drew, a clock Cobo's
                // answer has just corrected): at once, freshly signed, whatever the grant.
                resends += 1;
                events::request_failed(operation, attempt + resends, &CoboOAuthError::from(err), started.elapsed());
                continue;
            }
            let delay = match attempt < retry.max_retries && retryable(&err, operation) {
                true => delay_before_retry(retry, attempt, &err).filter(|delay| Instant::now() + *delay < deadline),
                false => None,
            };
            attempt += 1;
            let public = CoboOAuthError::from(err);
            events::request_failed(operation, attempt, &public, started.elapsed());
            match delay {
                Some(delay) => {
                    events::retrying(operation, attempt, &public, delay);
                    tokio::time::sleep(delay).await;
                }
                None => return Err(Error::Public(public)),
            }
        }
    }

    /// Verifies and parses one response.
    async fn read(&self, response: Response) -> Result<OrgToken, Error> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_body(response, status).await?;
        let retry_after = header(&headers, "retry-after").and_then(crate::http::retry_after::parse);
        match (header(&headers, "biz-timestamp"), header(&headers, "biz-resp-signature")) {
            (Some(timestamp), Some(signature)) => self.config.verifier.check_response(&body, timestamp, signature)?,
            _ if unsigned_unavailable(status) => return Err(Error::Unavailable { status, retry_after }),
            _ => return Err(Error::Signature(format!("HTTP {status} response carries no Cobo signature"))),
        }
        match status {
            200..=299 => parse::<TokenBody>(status, &body).and_then(|token| token.into_org_token(status)),
            400..=499 if crate::http::refusal::classify(status, &body) == Some(Refusal::CoboAuth) => {
                let RefusedBody { error_code, error, error_description, error_message } = parse(status, &body)?;
                Err(Error::CoboAuthRefused {
                    status,
                    error: error.unwrap_or_else(|| format!("error_code {error_code}")),
                    error_description: error_description.or(error_message).unwrap_or_default(),
                })
            }
            400..=499 => {
                let OAuthErrorBody { error, error_description } = parse(status, &body)?;
                Err(Error::OAuth { status, error, error_description, retry_after })
            }
            500..=599 => {
                let ServerErrorBody { error_code, error_message, error_id } = parse(status, &body)?;
                Err(Error::Server { status, error_code, error_message, error_id })
            }
            _ => Err(Error::InvalidResponse { status, reason: "unexpected HTTP status".into() }),
        }
    }
}

/// Token responses are a few hundred bytes; a proxy's error page may be larger,
/// but nothing legitimate comes near this.
const MAX_BODY_BYTES: u64 = 1 << 20;

/// The body, chunk by chunk (reqwest's request timeout covers them all), refused as
/// soon as it passes `MAX_BODY_BYTES`.
async fn read_body(mut response: Response, status: u16) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if (body.len() + chunk.len()) as u64 > MAX_BODY_BYTES {
            return Err(Error::InvalidResponse { status, reason: format!("body larger than {MAX_BODY_BYTES} bytes") });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Cobo's ids are tens of characters; the cap turns a runaway value into a clear
/// error instead of a URL a proxy refuses.
const MAX_ARGUMENT_BYTES: usize = 4096;

fn require(name: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::Argument(format!("{name} must not be empty")));
    }
    if value.len() > MAX_ARGUMENT_BYTES {
        return Err(Error::Argument(format!("{name} is longer than {MAX_ARGUMENT_BYTES} bytes")));
    }
    Ok(())
}

fn with_auth(builder: RequestBuilder, signed: crate::SignedRequest) -> RequestBuilder {
    builder
        .header("Biz-Api-Key", signed.api_key)
        .header("Biz-Api-Nonce", signed.nonce)
        .header("Biz-Api-Signature", signed.signature)
}

/// Both spellings: `Biz-Timestamp` (Python SDK) and `BIZ_TIMESTAMP` (Java SDK).
fn header<'a>(headers: &'a HeaderMap, hyphenated: &str) -> Option<&'a str> {
    headers
        .get(hyphenated)
        .or_else(|| headers.get(hyphenated.replace('-', "_")))
        .and_then(|value| value.to_str().ok())
}

/// Statuses that proxies and load balancers answer on their own, unsigned: Cobo is
/// out of reach for now (414 aside, which no retry fixes).
pub(crate) fn unsigned_unavailable(status: u16) -> bool {
    matches!(status, 414 | 429 | 500 | 502 | 503 | 504 | 520..=524)
}

/// Whether a failed attempt may be sent again: the GET (idempotent) after transport
/// errors, timeouts, 5XX, 429 and 503; the refresh POST (not idempotent) only if the
/// connection never opened.
fn retryable(err: &Error, operation: Operation) -> bool {
    match (err, operation) {
        (Error::Http(e), Operation::Refresh) => e.is_connect(),
        (_, Operation::Refresh) => false,
        (Error::Http(e), Operation::OrgImplicit) => !e.is_builder(),
        (Error::Server { .. }, Operation::OrgImplicit) => true,
        (Error::Unavailable { status, .. }, Operation::OrgImplicit) => *status != 414,
        // Cobo's own rate limit, signed: as retryable as a proxy's.
        (Error::OAuth { status: 429, .. }, Operation::OrgImplicit) => true,
        _ => false,
    }
}

/// The backoff, or longer if `Retry-After` asks for it; no retry when it asks for more
/// than `retry_max_delay_ms` (the caller learns at once instead of hanging).
fn delay_before_retry(policy: &RetryPolicy, attempt: u32, err: &Error) -> Option<Duration> {
    let jittered = backoff(policy, attempt);
    let asked = match err {
        Error::Unavailable { retry_after, .. } | Error::OAuth { retry_after, .. } => *retry_after,
        _ => None,
    };
    match asked {
        Some(wait) if wait > policy.max_delay => None,
        Some(wait) => Some(jittered.max(wait)),
        None => Some(jittered),
    }
}

/// Full jitter: a random delay in [0, min(max, base · 2^attempt)].
fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let ceiling = policy
        .base_delay
        .saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
        .min(policy.max_delay);
    let random = crate::util::random::u64();
    let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(random % ceiling_ms.saturating_add(1))
}

/// application/x-www-form-urlencoded, keeping only unreserved characters literal.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn parse<'a, T: Deserialize<'a>>(status: u16, body: &'a [u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::InvalidResponse { status, reason: json_reason(&e) })
}

/// serde_json's message without the input it quotes (it may be a token).
fn json_reason(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let kind = match err.classify() {
        Category::Io | Category::Eof => "truncated JSON",
        Category::Syntax => "malformed JSON",
        Category::Data => "JSON of the wrong shape (a field is missing or has the wrong type)",
    };
    format!("{kind} at line {} column {}", err.line(), err.column())
}

/// Cobo's tokens live about 12 hours; anything past ten years is a broken response,
/// and would overflow the date types of some languages.
const MAX_EXPIRES_IN_SECS: u64 = 10 * 365 * 24 * 3600;

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    token_type: String,
    #[serde(default)]
    scope: String,
    expires_in: i64,
    refresh_token: String,
}

impl TokenBody {
    fn into_org_token(self, status: u16) -> Result<OrgToken, Error> {
        let invalid = |reason: &str| Error::InvalidResponse { status, reason: reason.into() };
        if self.access_token.is_empty() || self.refresh_token.is_empty() {
            return Err(invalid("empty access_token or refresh_token"));
        }
        let lifetime = u64::try_from(self.expires_in)
            .ok()
            .filter(|&secs| secs <= MAX_EXPIRES_IN_SECS)
            .ok_or_else(|| invalid("expires_in is negative or longer than ten years"))?;
        let expires_at = SystemTime::now()
            .checked_add(Duration::from_secs(lifetime))
            .ok_or_else(|| invalid("expires_in out of range"))?;
        Ok(OrgToken {
            access_token: Secret::new(self.access_token),
            token_type: self.token_type,
            scope: self.scope,
            expires_in: self.expires_in,
            refresh_token: Secret::new(self.refresh_token),
            expires_at,
        })
    }
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    error_description: String,
}

/// A CoboAuth refusal, in the OAuth shape or WaaS's (`error_code`, `error_message`).
#[derive(Deserialize)]
struct RefusedBody {
    error_code: i64,
    error: Option<String>,
    error_description: Option<String>,
    error_message: Option<String>,
}

#[derive(Deserialize)]
struct ServerErrorBody {
    error_code: i64,
    error_message: String,
    error_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_keeps_unreserved_only() {
        assert_eq!(form_encode("e3986401-4aec_x.y~z"), "e3986401-4aec_x.y~z");
        assert_eq!(form_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn absurd_lifetimes_are_invalid_responses() {
        for expires_in in [-1, 1_000_000_000_000, i64::MAX] {
            let body = format!(
                r#"{{"access_token":"a","token_type":"Bearer","expires_in":{expires_in},"refresh_token":"r"}}"#
            );
            let token = parse::<TokenBody>(201, body.as_bytes()).unwrap();
            assert!(matches!(token.into_org_token(201), Err(Error::InvalidResponse { status: 201, .. })));
        }
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        let policy = RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(250),
        };
        for attempt in 0..40 {
            let ceiling = Duration::from_millis((100u64 << attempt.min(10)).min(250));
            assert!(backoff(&policy, attempt) <= ceiling);
        }
    }
}
