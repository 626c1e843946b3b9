//! The control API under `/_mock`: plain JSON over HTTP, no CoboAuth, so that tests in
//! any language can register apps, queue faults and read counters.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::crypto::normalize_api_key;
use crate::faults::{Fault, FaultTarget};
use crate::http::{Request, Response};
use crate::server::{lock, Outcome, Reply, State};
use crate::App;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    fault: Fault,
    #[serde(default = "one")]
    count: u32,
    #[serde(default)]
    operation: FaultTarget,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TamperRequest {
    #[serde(default = "one")]
    count: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigRequest {
    access_ttl_secs: Option<u64>,
    refresh_ttl_secs: Option<u64>,
    strict_rotation: Option<bool>,
    clock_offset_ms: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    org_id: String,
    #[serde(default)]
    expire_only: bool,
}

pub(crate) fn handle(state: &State, req: &Request) -> Outcome {
    let result = match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/_mock/apps") => parse::<App>(req).and_then(|app| {
            if normalize_api_key(&app.api_key).is_none() {
                return Err((
                    400,
                    "api_key must be a 64-hex-char Ed25519 public key".into(),
                ));
            }
            let note = format!("app {} registered", app.client_id);
            lock(&state.registry).register(app);
            Ok((json!({"ok": true}), note))
        }),
        ("POST", "/_mock/faults") => parse::<FaultRequest>(req).map(|f| {
            let note = format!(
                "{} x {} queued for {}",
                f.fault.kind(),
                f.count,
                f.operation.name()
            );
            lock(&state.faults).push(f.fault, f.count, f.operation);
            (json!({"ok": true}), note)
        }),
        ("GET", "/_mock/counters") => Ok((json!(*lock(&state.counters)), String::new())),
        ("POST", "/_mock/tamper") => parse::<TamperRequest>(req).map(|t| {
            state.protected.tamper_next(t.count);
            let note = format!("next {} protected response(s) tampered", t.count);
            (json!({"ok": true}), note)
        }),
        ("POST", "/_mock/reset") => {
            lock(&state.faults).clear();
            state.protected.clear();
            *lock(&state.counters) = Default::default();
            Ok((json!({"ok": true}), "faults and counters cleared".into()))
        }
        ("POST", "/_mock/config") => parse::<ConfigRequest>(req).map(|c| {
            let mut registry = lock(&state.registry);
            registry.access_ttl_secs = c.access_ttl_secs.unwrap_or(registry.access_ttl_secs);
            registry.refresh_ttl_secs = c.refresh_ttl_secs.unwrap_or(registry.refresh_ttl_secs);
            registry.strict_rotation = c.strict_rotation.unwrap_or(registry.strict_rotation);
            if let Some(offset) = c.clock_offset_ms {
                state.clock_offset_ms.store(offset, std::sync::atomic::Ordering::Relaxed);
            }
            let note = format!(
                "ttls: access {} s, refresh {} s; strict rotation {}; clock offset {} ms",
                registry.access_ttl_secs,
                registry.refresh_ttl_secs,
                if registry.strict_rotation { "on" } else { "off" },
                state.clock_offset_ms.load(std::sync::atomic::Ordering::Relaxed)
            );
            (json!({"ok": true}), note)
        }),
        ("POST", "/_mock/revoke") => parse::<RevokeRequest>(req).map(|r| {
            let affected = lock(&state.registry).revoke_org(&r.org_id, r.expire_only);
            let what = if r.expire_only { "expired" } else { "revoked" };
            (json!({"ok": true, "tokens": affected}), format!("{affected} token(s) of {} {what}", r.org_id))
        }),
        ("GET", "/_mock/info") => Ok((
            json!({"base_url": state.base_url, "control_url": state.control_url,
                "response_public_key": state.signer.public_key_hex()}),
            String::new(),
        )),
        (
            _,
            "/_mock/apps" | "/_mock/faults" | "/_mock/counters" | "/_mock/reset" | "/_mock/config"
            | "/_mock/info" | "/_mock/tamper" | "/_mock/revoke",
        ) => Err((405, format!("method {} is not allowed here", req.method))),
        (_, path) => Err((404, format!("no such control endpoint: {path}"))),
    };
    let (status, body, note) = match result {
        Ok((body, note)) => (200, body, note),
        Err((status, description)) => {
            let error = if status == 400 {
                "invalid_request"
            } else {
                "not_found"
            };
            let error = if status == 405 {
                "method_not_allowed"
            } else {
                error
            };
            (
                status,
                json!({"error": error, "error_description": description}),
                description,
            )
        }
    };
    let response = Response::json(status, body.to_string().into_bytes());
    Outcome {
        reply: Reply::Send(response),
        note,
    }
}

fn parse<T: DeserializeOwned>(req: &Request) -> Result<T, (u16, String)> {
    // An empty body means "all defaults" where the type allows it.
    let body: &[u8] = if req.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &req.body
    };
    let value: Value =
        serde_json::from_slice(body).map_err(|e| (400, format!("body is not JSON: {e}")))?;
    serde_json::from_value(value).map_err(|e| (400, format!("bad request body: {e}")))
}
