//! Injected failures: a queue of faults that replace the next matching token requests.
//! Each fault is what a client can meet in the field (a Cobo error, a proxy page, a
//! broken body or signature, a slow or dead connection), shaped exactly on the wire.

use std::collections::VecDeque;

use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::http::{reason, Response};
use crate::server::{lock, Outcome, Reply, State};

/// One injected failure. JSON: an object tagged by `"kind"`, e.g.
/// `{"kind": "server_error", "status": 500}`; omitted fields take the defaults shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// A signed 5XX ErrorResponse `{"error_code", "error_message", "error_id"}`.
    /// Defaults: 500, 12001, "Internal server error", a random 32-hex id.
    ServerError {
        #[serde(default = "default_server_status")]
        status: u16,
        #[serde(default = "default_error_code")]
        error_code: i64,
        #[serde(default = "default_error_message")]
        error_message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_id: Option<String>,
    },
    /// A signed 4XX `{"error", "error_description"}`. Defaults: 400, "invalid_request".
    #[serde(rename = "oauth_error")]
    OAuthError {
        #[serde(default = "default_oauth_status")]
        status: u16,
        #[serde(default = "default_oauth_error")]
        error: String,
        #[serde(default = "default_oauth_description")]
        error_description: String,
    },
    /// A proxy's answer: the reason phrase as plain text, no `Biz-*` headers. Default 503.
    Unsigned {
        #[serde(default = "default_unsigned_status")]
        status: u16,
        /// Sent as `Retry-After: <seconds>`, as proxies do on 429 and 503.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
        /// Sends `retry_after_secs` as an HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retry_after_as_date: bool,
    },
    /// 200, signed, a body that is not JSON.
    MalformedJson,
    /// 200 headers announcing the whole token body, half of it, then the socket closes.
    TruncatedBody,
    /// 200, signed, `{"token_type":"Bearer","scope":""}`.
    MissingFields,
    /// 200, signed, `access_token` a number and `expires_in` a string.
    WrongTypes,
    /// 200 with a token body and a well-formed signature that does not verify.
    BadSignature,
    /// 200 with a token body and no `Biz-Timestamp` / `Biz-Resp-Signature`.
    MissingSignature,
    /// Waits, then processes the request normally.
    Delay { delay_ms: u64 },
    /// Reads the request, then closes the connection without a byte.
    DropConnection,
    /// 200, signed, headers at once, then the body one byte per `interval_ms` (a
    /// dripping proxy): only a deadline over the whole body ends it.
    SlowBody {
        #[serde(default = "default_drip_interval")]
        interval_ms: u64,
    },
    /// 200, signed, headers and half the body, then silence for `stall_ms` with the
    /// connection open.
    StallMidBody {
        #[serde(default = "default_stall")]
        stall_ms: u64,
    },
}

fn default_drip_interval() -> u64 {
    1000
}
fn default_stall() -> u64 {
    60_000
}

fn default_server_status() -> u16 {
    500
}
fn default_error_code() -> i64 {
    12001
}
fn default_error_message() -> String {
    "Internal server error".into()
}
fn default_oauth_status() -> u16 {
    400
}
fn default_oauth_error() -> String {
    "invalid_request".into()
}
fn default_oauth_description() -> String {
    "Injected OAuth error".into()
}
fn default_unsigned_status() -> u16 {
    503
}

impl Fault {
    /// The `kind` tag, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::ServerError { .. } => "server_error",
            Fault::OAuthError { .. } => "oauth_error",
            Fault::Unsigned { .. } => "unsigned",
            Fault::MalformedJson => "malformed_json",
            Fault::TruncatedBody => "truncated_body",
            Fault::MissingFields => "missing_fields",
            Fault::WrongTypes => "wrong_types",
            Fault::BadSignature => "bad_signature",
            Fault::MissingSignature => "missing_signature",
            Fault::Delay { .. } => "delay",
            Fault::DropConnection => "drop_connection",
            Fault::SlowBody { .. } => "slow_body",
            Fault::StallMidBody { .. } => "stall_mid_body",
        }
    }
}

/// Which token requests a queued fault applies to. JSON: `"any"`, `"get"`, `"refresh"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    #[default]
    Any,
    Get,
    Refresh,
}

/// The two token operations: `GET` is Get Org Access Token, `POST` is Refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Get,
    Refresh,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::Refresh => "refresh",
        }
    }
}

impl FaultTarget {
    pub(crate) fn name(self) -> &'static str {
        match self {
            FaultTarget::Any => "any",
            FaultTarget::Get => "get",
            FaultTarget::Refresh => "refresh",
        }
    }

    fn matches(self, op: Operation) -> bool {
        matches!(
            (self, op),
            (FaultTarget::Any, _)
                | (FaultTarget::Get, Operation::Get)
                | (FaultTarget::Refresh, Operation::Refresh)
        )
    }
}

/// Faults in the order they were queued; each entry serves `remaining` requests.
#[derive(Default)]
pub(crate) struct FaultQueue {
    entries: VecDeque<(Fault, u32, FaultTarget)>,
}

impl FaultQueue {
    pub fn push(&mut self, fault: Fault, count: u32, target: FaultTarget) {
        if count > 0 {
            self.entries.push_back((fault, count, target));
        }
    }

    /// The first queued fault for `op`, consuming one of its uses.
    pub fn take(&mut self, op: Operation) -> Option<Fault> {
        let i = self
            .entries
            .iter()
            .position(|(_, _, target)| target.matches(op))?;
        let entry = &mut self.entries[i];
        entry.1 -= 1;
        let fault = entry.0.clone();
        if entry.1 == 0 {
            self.entries.remove(i);
        }
        Some(fault)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Applies a fault: `Some` is what the client receives instead of normal processing;
/// `None` (after a `Delay`) means process the request normally.
pub(crate) fn apply(state: &State, fault: &Fault) -> Option<Outcome> {
    if let Fault::Delay { delay_ms } = fault {
        std::thread::sleep(std::time::Duration::from_millis(*delay_ms));
        return None;
    }
    let note = format!("fault {}", fault.kind());
    let token_body =
        || serde_json::to_vec(&lock(&state.registry).unbound_token(&state.rng)).unwrap_or_default();
    let reply = match fault {
        Fault::ServerError {
            status,
            error_code,
            error_message,
            error_id,
        } => {
            let error_id = error_id.clone().unwrap_or_else(|| state.rng.error_id());
            let body = json!({"error_code": error_code, "error_message": error_message, "error_id": error_id});
            Reply::Send(state.signed(*status, body.to_string().into_bytes()))
        }
        Fault::OAuthError {
            status,
            error,
            error_description,
        } => {
            let body = json!({"error": error, "error_description": error_description});
            Reply::Send(state.signed(*status, body.to_string().into_bytes()))
        }
        Fault::Unsigned { status, retry_after_secs, retry_after_as_date } => {
            let mut headers = vec![("Content-Type".into(), "text/plain; charset=utf-8".into())];
            if let Some(secs) = retry_after_secs {
                let value = match retry_after_as_date {
                    true => httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(state.now_ms()) + Duration::from_secs(*secs)),
                    false => secs.to_string(),
                };
                headers.push(("Retry-After".into(), value));
            }
            Reply::Send(Response { status: *status, headers, body: reason(*status).as_bytes().to_vec() })
        }
        Fault::MalformedJson => {
            Reply::Send(state.signed(200, br#"{"access_token": "mock", "token_type": "#.to_vec()))
        }
        Fault::TruncatedBody => Reply::Truncate(state.signed(200, token_body())),
        Fault::MissingFields => {
            Reply::Send(state.signed(200, br#"{"token_type":"Bearer","scope":""}"#.to_vec()))
        }
        Fault::WrongTypes => {
            let ttl = lock(&state.registry).access_ttl_secs;
            let body = json!({"access_token": 12345, "token_type": "Bearer", "scope": "",
                "expires_in": ttl.to_string(), "refresh_token": state.rng.token()});
            Reply::Send(state.signed(200, body.to_string().into_bytes()))
        }
        Fault::BadSignature => {
            let body = token_body();
            let timestamp = state.now_ms().to_string();
            // A real signature by the right key over other bytes: well-formed, never valid.
            let mut other = body.clone();
            other.push(b' ');
            let signature = state.signer.sign(&other, &timestamp);
            let mut response = Response::json(200, body);
            response.headers.push(("Biz-Timestamp".into(), timestamp));
            response
                .headers
                .push(("Biz-Resp-Signature".into(), signature));
            Reply::Send(response)
        }
        Fault::MissingSignature => Reply::Send(Response::json(200, token_body())),
        Fault::SlowBody { interval_ms } => Reply::Drip {
            response: state.signed(200, token_body()),
            interval: Duration::from_millis(*interval_ms),
        },
        Fault::StallMidBody { stall_ms } => {
            Reply::Stall { response: state.signed(200, token_body()), stall: Duration::from_millis(*stall_ms) }
        }
        Fault::DropConnection | Fault::Delay { .. } => Reply::Drop,
    };
    Some(Outcome { reply, note })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_json_uses_kind_tags_and_defaults() {
        let f: Fault = serde_json::from_str(r#"{"kind":"server_error"}"#).unwrap();
        assert_eq!(
            f,
            Fault::ServerError {
                status: 500,
                error_code: 12001,
                error_message: "Internal server error".into(),
                error_id: None
            }
        );
        let f: Fault =
            serde_json::from_str(r#"{"kind":"oauth_error","status":401,"error":"invalid_client"}"#)
                .unwrap();
        assert!(matches!(f, Fault::OAuthError { status: 401, .. }));
        assert_eq!(
            serde_json::from_str::<Fault>(r#"{"kind":"delay","delay_ms":5}"#).unwrap(),
            Fault::Delay { delay_ms: 5 }
        );
        assert_eq!(
            serde_json::from_str::<Fault>(r#"{"kind":"drop_connection"}"#).unwrap(),
            Fault::DropConnection
        );
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"delay","delay":5}"#).is_err());
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"nope"}"#).is_err());
    }

    #[test]
    fn queue_serves_in_order_and_by_operation() {
        let mut q = FaultQueue::default();
        q.push(Fault::MalformedJson, 2, FaultTarget::Refresh);
        q.push(Fault::DropConnection, 1, FaultTarget::Any);
        assert_eq!(q.take(Operation::Get), Some(Fault::DropConnection));
        assert_eq!(q.take(Operation::Get), None);
        assert_eq!(q.take(Operation::Refresh), Some(Fault::MalformedJson));
        assert_eq!(q.take(Operation::Refresh), Some(Fault::MalformedJson));
        assert_eq!(q.take(Operation::Refresh), None);
    }
}
