//! `/v2/wallets` and its sub-paths: a WaaS business endpoint that needs both CoboAuth
//! and an Org Access Token, as every real WaaS call does. The signature is checked over
//! the raw bytes that arrived (path, query string and body as received), the Bearer
//! token against the tokens this mock issued, and the answer is signed like Cobo's.
//! Its answer echoes what arrived, so tests can check what their HTTP client sent.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{json, Value};

use crate::auth::authenticate;
use crate::error::OAuthError;
use crate::http::Request;
use crate::oauth::parse_form;
use crate::server::{lock, Outcome, Reply, State};
use crate::tokens::AccessRefusal;

const PREFIX: &str = "/v2/wallets";

/// The mock's own `error_code` for a refused access token (Cobo does not document its code).
const TOKEN_ERROR_CODE: i64 = 2040;

/// Per-server state of the protected endpoint.
#[derive(Default)]
pub(crate) struct Protected {
    /// How many of the next accepted responses get their body changed after signing.
    tamper: AtomicU32,
}

impl Protected {
    /// Makes the next `count` accepted protected responses arrive tampered.
    pub fn tamper_next(&self, count: u32) {
        self.tamper.store(count, Ordering::SeqCst);
    }

    fn take_tamper(&self) -> bool {
        self.tamper.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    pub fn clear(&self) {
        self.tamper.store(0, Ordering::SeqCst);
    }
}

/// Whether `path` (raw, as received) is served here.
pub(crate) fn serves(path: &str) -> bool {
    path == PREFIX || path.starts_with("/v2/wallets/")
}

pub(crate) fn handle(state: &State, req: &Request) -> Outcome {
    state.count(|c| c.total += 1);
    match check(state, req) {
        Ok(org_id) => {
            state.count(|c| c.protected_accepted += 1);
            let body = answer(req, &org_id);
            let reply = if state.protected.take_tamper() {
                tampered(state, body)
            } else {
                state.signed_json(200, &body)
            };
            Outcome { reply: Reply::Send(reply), note: format!("accepted for {org_id}") }
        }
        Err(refusal) => {
            state.count(|c| c.protected_refused += 1);
            let note = refusal.note.clone();
            Outcome { reply: Reply::Send(state.signed_json(refusal.status, &refusal.body)), note }
        }
    }
}

struct Refusal {
    status: u16,
    body: Value,
    note: String,
}

impl From<OAuthError> for Refusal {
    fn from(e: OAuthError) -> Refusal {
        let note = format!("{}: {}", e.error, e.error_description);
        Refusal { status: e.status, body: json!(e), note }
    }
}

/// CoboAuth first (401 on failure, as for the token endpoint), then the Bearer token:
/// Cobo answers an unknown, expired or revoked access token with a 500, not a 401.
fn check(state: &State, req: &Request) -> Result<String, Refusal> {
    if !matches!(req.method.as_str(), "GET" | "POST") {
        let description = format!("method {} is not allowed here", req.method);
        return Err(OAuthError::new(405, "invalid_request", description).into());
    }
    let api_key = authenticate(state, req)?;
    let bearer = req
        .header("Authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .filter(|token| !token.is_empty())
        .ok_or_else(|| OAuthError::new(401, "invalid_token", "missing Authorization: Bearer <access token>"))?;
    if req.method == "POST" && !req.body.is_empty() && serde_json::from_slice::<Value>(&req.body).is_err() {
        return Err(OAuthError::invalid_request("the request body is not valid JSON").into());
    }
    let checked = lock(&state.registry).check_access(bearer, &api_key, state.now_ms());
    checked.map_err(|refusal| {
        let message = match refusal {
            AccessRefusal::Unknown => "the access token is invalid",
            AccessRefusal::Expired => "the access token has expired",
            AccessRefusal::Revoked => "the access token has been revoked",
        };
        let body = json!({"error_code": TOKEN_ERROR_CODE, "error_message": message, "error_id": state.rng.error_id()});
        Refusal { status: 500, body, note: message.to_owned() }
    })
}

/// WaaS's list shape (`data`, `pagination`), plus what arrived under `request`.
fn answer(req: &Request, org_id: &str) -> Value {
    let body = match serde_json::from_slice::<Value>(&req.body) {
        Ok(value) => value,
        Err(_) => Value::String(String::from_utf8_lossy(&req.body).into_owned()),
    };
    let params: Vec<[String; 2]> = parse_form(&req.query).into_iter().map(|(k, v)| [k, v]).collect();
    json!({
        "data": [],
        "pagination": {"before": "", "after": "", "total_count": 0},
        "request": {
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "params": params,
            "body": body,
            "org_id": org_id,
        },
    })
}

/// Signed over the true body, sent with a changed one: a client must reject it.
fn tampered(state: &State, mut body: Value) -> crate::http::Response {
    let mut response = state.signed_json(200, &body);
    body["pagination"]["total_count"] = json!(1_000_000);
    response.body = serde_json::to_vec(&body).unwrap_or_default();
    response
}
