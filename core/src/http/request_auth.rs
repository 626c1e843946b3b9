//! CoboAuth for WaaS calls made with reqwest's blocking client: signs a built request
//! over exactly the path, query and body it will send, adds the org's Bearer token, and
//! checks Cobo's signature on the answer. Rust-only (not in the UDL): the bindings have
//! hooks for their own HTTP clients.

use std::io::Read;
use std::sync::Arc;

use reqwest::blocking::{Client, Request, Response};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::StatusCode;

use crate::error::{CoboOAuthError, Error};
use crate::http::refusal::{classify, Refusal, COBOAUTH_RESENDS};
use crate::{AppKey, ResponseVerifier, Secret, TokenManager};

/// Signs and authorizes requests for one app, and verifies the answers. Cheap to share
/// between threads (`Arc` it, or clone the `Arc`s it holds).
#[derive(Debug)]
pub struct CoboAuth {
    key: Arc<AppKey>,
    manager: Arc<TokenManager>,
    verifier: Option<ResponseVerifier>,
}

/// A response whose Cobo signature verified (or was not checked, see
/// [`CoboAuth::without_response_verification`]), read in full.
#[derive(Debug, Clone)]
pub struct VerifiedResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// WaaS answers are JSON pages; far above any of them, and a bound on memory.
const MAX_BODY_BYTES: u64 = 64 << 20;

impl CoboAuth {
    /// `key` must be the key the manager's client signs with; `verifier` holds the key
    /// Cobo signs responses with (the environment's, or a proxy's or mock's).
    pub fn new(key: Arc<AppKey>, manager: Arc<TokenManager>, verifier: ResponseVerifier) -> Self {
        CoboAuth { key, manager, verifier: Some(verifier) }
    }

    /// Responses are returned without checking Cobo's signature. Not recommended.
    pub fn without_response_verification(mut self) -> Self {
        self.verifier = None;
        self
    }

    /// Adds `Authorization: Bearer <token>` (renewed by the manager first if needed, so
    /// it may make token requests) and the `Biz-Api-*` headers, signed over the URL's
    /// encoded path and query and the body bytes, exactly as reqwest sends them. A
    /// streamed body cannot be signed (`InvalidArgument`); build requests with a byte body.
    pub fn authorize(&self, request: &mut Request, org_id: &str) -> Result<(), CoboOAuthError> {
        self.authorize_with_token(request, org_id).map(drop)
    }

    /// `authorize`, returning the access token it added.
    fn authorize_with_token(&self, request: &mut Request, org_id: &str) -> Result<Secret, CoboOAuthError> {
        let body = match request.body() {
            None => "",
            Some(body) => {
                let bytes = body.as_bytes().ok_or_else(streamed_body)?;
                std::str::from_utf8(bytes)
                    .map_err(|_| Error::Argument("the body is not UTF-8; CoboAuth signs it as text".into()))?
            }
        };
        let url = request.url();
        let signed = self.key.sign_request(
            request.method().as_str().to_owned(),
            url.path().to_owned(),
            url.query().unwrap_or("").to_owned(),
            body.to_owned(),
        );
        let token = self.manager.access_token(org_id.to_owned())?;
        let mut bearer = header_value(&format!("Bearer {}", token.expose()))?;
        // reqwest's Debug output then shows the header as "Sensitive".
        bearer.set_sensitive(true);
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, bearer);
        headers.insert(HeaderName::from_static("biz-api-key"), header_value(&signed.api_key)?);
        headers.insert(HeaderName::from_static("biz-api-nonce"), header_value(&signed.nonce)?);
        headers.insert(HeaderName::from_static("biz-api-signature"), header_value(&signed.signature)?);
        Ok(token)
    }

    /// Reads the whole body and checks `Biz-Resp-Signature` over `<body>|<Biz-Timestamp>`
    /// (either spelling of the headers). Any status is returned once it verifies: a
    /// signed 4XX or 5XX is Cobo's real answer. An unsigned 414, 429, 500, 502-504 or 520-524 is a
    /// proxy's or load balancer's (`Unavailable`); any other unsigned answer is `ResponseSignature`.
    pub fn verify(&self, response: Response) -> Result<VerifiedResponse, CoboOAuthError> {
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        response.take(MAX_BODY_BYTES + 1).read_to_end(&mut body).map_err(Error::from)?;
        if body.len() as u64 > MAX_BODY_BYTES {
            let reason = format!("body larger than {MAX_BODY_BYTES} bytes");
            return Err(CoboOAuthError::InvalidResponse { status: status.as_u16(), reason });
        }
        if let Some(verifier) = &self.verifier {
            let found = |names: [&str; 2]| names.iter().find_map(|name| headers.get(*name)?.to_str().ok());
            match (found(["biz-timestamp", "biz_timestamp"]), found(["biz-resp-signature", "biz_resp_signature"])) {
                (Some(timestamp), Some(signature)) => verifier.check_response(&body, timestamp, signature)?,
                _ if crate::http::client::unsigned_unavailable(status.as_u16()) => {
                    return Err(CoboOAuthError::Unavailable { status: status.as_u16() })
                }
                _ => {
                    let reason = format!("HTTP {} response carries no Cobo signature", status.as_u16());
                    return Err(CoboOAuthError::ResponseSignature { reason });
                }
            }
        }
        Ok(VerifiedResponse { status, headers, body })
    }

    /// Authorizes `request` for `org_id`, sends it with `client`, and verifies the answer.
    /// Sends it again only when Cobo refused it before acting (refusal.rs): freshly
    /// signed after a CoboAuth refusal (at most `COBOAUTH_RESENDS` times), and once with
    /// a renewed token after a refusal that names the token (which is invalidated, so
    /// concurrent callers share one renewal). Never after any other answer: a WaaS call
    /// may not be idempotent.
    pub fn send(&self, client: &Client, request: Request, org_id: &str) -> Result<VerifiedResponse, CoboOAuthError> {
        let (mut resends, mut renewed) = (0, false);
        loop {
            let mut attempt = request.try_clone().ok_or_else(streamed_body)?;
            let token = self.authorize_with_token(&mut attempt, org_id)?;
            let response = self.verify(client.execute(attempt).map_err(Error::from)?)?;
            match classify(response.status.as_u16(), &response.body) {
                Some(Refusal::CoboAuth) if resends < COBOAUTH_RESENDS => resends += 1,
                Some(Refusal::AccessToken) if !renewed => {
                    self.manager.invalidate(org_id.to_owned(), token)?;
                    renewed = true;
                }
                _ => return Ok(response),
            }
        }
    }
}

/// A streamed body can be neither signed nor sent again.
fn streamed_body() -> Error {
    Error::Argument("a streamed body cannot be signed: build the request with a byte body".into())
}

/// Header values here are hex, digits or a token; none should fail, and the error
/// never shows the value.
fn header_value(value: &str) -> Result<HeaderValue, CoboOAuthError> {
    HeaderValue::from_str(value)
        .map_err(|_| CoboOAuthError::InvalidArgument { reason: "a header value has characters HTTP forbids".into() })
}
