//! `/v2/oauth/token`: counts the request, applies a queued fault, or authenticates
//! and runs Get Org Access Token (GET) or Refresh Org Access Token (POST).

use serde_json::Value;

use crate::auth::authenticate;
use crate::error::OAuthError;
use crate::faults::{self, Operation};
use crate::http::Request;
use crate::server::{lock, Outcome, Reply, State};
use crate::tokens::{Reuse, TokenResponse};

pub(crate) const TOKEN_PATH: &str = "/v2/oauth/token";

pub(crate) fn handle(state: &State, req: &Request) -> Outcome {
    state.count(|c| c.total += 1);
    let op = match req.method.as_str() {
        "GET" => Operation::Get,
        "POST" => Operation::Refresh,
        _ => {
            let e = OAuthError::new(
                405,
                "invalid_request",
                format!("method {} is not allowed here", req.method),
            );
            return refusal(state, e);
        }
    };
    state.count(|c| match op {
        Operation::Get => c.get += 1,
        Operation::Refresh => c.refresh += 1,
    });
    // Faults apply after the whole request was read, before authentication.
    let fault = lock(&state.faults).take(op);
    if let Some(fault) = fault {
        state.count(|c| c.faulted += 1);
        if let Some(outcome) = faults::apply(state, &fault) {
            return outcome;
        }
    }
    match process(state, req, op) {
        Ok((status, token)) => {
            state.count(|c| c.issued += 1);
            Outcome {
                reply: Reply::Send(state.signed_json(status, &token)),
                note: format!("{}: issued", op.name()),
            }
        }
        Err(e) => refusal(state, e),
    }
}

fn refusal(state: &State, e: OAuthError) -> Outcome {
    state.count(|c| c.rejected += 1);
    let note = format!("{}: {}", e.error, e.error_description);
    Outcome {
        reply: Reply::Send(state.signed_json(e.status, &e)),
        note,
    }
}

fn process(
    state: &State,
    req: &Request,
    op: Operation,
) -> Result<(u16, TokenResponse), OAuthError> {
    let api_key = authenticate(state, req)?;
    match op {
        Operation::Get => {
            let params = parse_form(&req.query);
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        OAuthError::invalid_request(format!("missing required parameter {name}"))
                    })
            };
            let (client_id, org_id, grant_type) =
                (param("client_id")?, param("org_id")?, param("grant_type")?);
            if grant_type != "org_implicit" {
                return Err(OAuthError::unsupported_grant_type(format!(
                    "grant_type must be org_implicit, not {grant_type}"
                )));
            }
            let token =
                lock(&state.registry).get(client_id, &api_key, org_id, &state.rng, state.now_ms())?;
            Ok((200, token))
        }
        Operation::Refresh => {
            let body: Value = serde_json::from_slice(&req.body)
                .map_err(|_| OAuthError::invalid_request("the request body is not valid JSON"))?;
            let field = |name: &str| {
                body.get(name)
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        OAuthError::invalid_request(format!("missing required field {name}"))
                    })
            };
            let (client_id, grant_type, refresh_token) = (
                field("client_id")?,
                field("grant_type")?,
                field("refresh_token")?,
            );
            if grant_type != "refresh_token" {
                return Err(OAuthError::unsupported_grant_type(format!(
                    "grant_type must be refresh_token, not {grant_type}"
                )));
            }
            let refreshed = lock(&state.registry).refresh(
                client_id,
                &api_key,
                refresh_token,
                &state.rng,
                state.now_ms(),
            );
            let token = refreshed.map_err(|refusal| {
                if let Some(reuse) = refusal.reuse {
                    state.count(|c| {
                        c.spent_refusals += 1;
                        if reuse == Reuse::FamilyRevoked {
                            c.reuse_detections += 1;
                        }
                    });
                }
                refusal.error
            })?;
            Ok((201, token))
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` pairs (`+` is a space, `%XX` a byte).
pub(crate) fn parse_form(query: &str) -> Vec<(String, String)> {
    fn nibble(c: u8) -> Option<u8> {
        (c as char).to_digit(16).map(|d| d as u8)
    }
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => match (nibble(bytes[i + 1]), nibble(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                },
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_form;

    #[test]
    fn form_decoding() {
        let pairs = parse_form("client_id=a%2Bb&org_id=x+y&empty=&flag&bad=%zz%4");
        let expected = [
            ("client_id", "a+b"),
            ("org_id", "x y"),
            ("empty", ""),
            ("flag", ""),
            ("bad", "%zz%4"),
        ];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }
}
