//! What the library tells operators, through the `log` facade (target `cobo_oauth`):
//! renewals, retries, fallbacks, store failures and backoffs. Each line carries
//! `key=value` fields (org_id, operation, status, error, attempt, duration_ms). No token
//! or key is ever logged: errors are shown by kind, status and their redacted message.

use std::time::Duration;

use crate::CoboOAuthError;

/// Which grant a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    OrgImplicit,
    Refresh,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::OrgImplicit => "org_implicit",
            Operation::Refresh => "refresh",
        }
    }
}

const TARGET: &str = "cobo_oauth";

pub(crate) fn renewal_succeeded(org_id: &str, operation: Operation, took: Duration) {
    log::info!(target: TARGET, "renewal succeeded org_id={org_id} operation={} duration_ms={}", operation.name(), took.as_millis());
}

pub(crate) fn renewal_failed(org_id: &str, err: &CoboOAuthError, took: Duration, backoff: Duration) {
    log::warn!(
        target: TARGET,
        "renewal failed org_id={org_id} {} duration_ms={} backoff_ms={}: {err}",
        fields(err),
        took.as_millis(),
        backoff.as_millis()
    );
}

pub(crate) fn renewal_started(org_id: &str, operation: Operation) {
    log::debug!(target: TARGET, "renewal started org_id={org_id} operation={}", operation.name());
}

pub(crate) fn retrying(operation: Operation, attempt: u32, err: &CoboOAuthError, delay: Duration) {
    log::info!(
        target: TARGET,
        "retrying operation={} attempt={attempt} {} delay_ms={}: {err}",
        operation.name(),
        fields(err),
        delay.as_millis()
    );
}

pub(crate) fn request_failed(operation: Operation, attempt: u32, err: &CoboOAuthError, took: Duration) {
    log::debug!(
        target: TARGET,
        "request failed operation={} attempt={attempt} {} duration_ms={}",
        operation.name(),
        fields(err),
        took.as_millis()
    );
}

pub(crate) fn fallback(org_id: &str, refused: &CoboOAuthError) {
    log::warn!(target: TARGET, "refresh refused, falling back to org_implicit org_id={org_id} {}: {refused}", fields(refused));
}

pub(crate) fn store_failed(org_id: &str, operation: &str, err: &CoboOAuthError) {
    log::error!(target: TARGET, "token store failed org_id={org_id} operation={operation}: {err}");
}

pub(crate) fn single_process_store() {
    log::info!(target: TARGET, "token store does not coordinate: renewals are coordinated within this process only");
}

pub(crate) fn adopted(org_id: &str) {
    log::info!(target: TARGET, "adopted a token another process renewed org_id={org_id}");
}

pub(crate) fn save_conflict(org_id: &str) {
    log::warn!(target: TARGET, "token store save conflict, another process saved first org_id={org_id}");
}

pub(crate) fn refresh_in_flight(org_id: &str) {
    log::warn!(
        target: TARGET,
        "stored refresh token marked in flight by an earlier renewal org_id={org_id}: it may be spent, asking for a new grant instead"
    );
}

pub(crate) fn rolled_back(org_id: &str, stored: u64, held: u64) {
    log::warn!(
        target: TARGET,
        "token store rolled back org_id={org_id} stored_version={stored} held_version={held}: renewing with this process's newer token"
    );
}

pub(crate) fn lease_lost(org_id: &str) {
    log::warn!(target: TARGET, "renewal lease lost while renewing org_id={org_id}");
}

pub(crate) fn store_file_corrupt(path: &std::path::Path, aside: &std::path::Path) {
    log::error!(target: TARGET, "token file {} is not a token file: moved to {}, starting empty", path.display(), aside.display());
}

pub(crate) fn record_unopened(org_id: &str) {
    log::warn!(
        target: TARGET,
        "stored token does not open with this app's store key org_id={org_id}: sealed under another key (an app key rotation?) or for another org; counted as missing"
    );
}

pub(crate) fn backing_off(org_id: &str, failures: u32, left: Duration) {
    log::debug!(target: TARGET, "backing off org_id={org_id} failures={failures} retry_in_ms={}", left.as_millis());
}

/// `error=<kind>` and, when there is one, `status=<HTTP status>`.
fn fields(err: &CoboOAuthError) -> String {
    let (kind, status) = match err {
        CoboOAuthError::InvalidKey { .. } => ("invalid_key", None),
        CoboOAuthError::InvalidArgument { .. } => ("invalid_argument", None),
        CoboOAuthError::OAuth { status, .. } => ("oauth", Some(status)),
        CoboOAuthError::Server { status, .. } => ("server", Some(status)),
        CoboOAuthError::Unavailable { status } => ("unavailable", Some(status)),
        CoboOAuthError::Transport { .. } => ("transport", None),
        CoboOAuthError::Timeout { .. } => ("timeout", None),
        CoboOAuthError::InvalidResponse { status, .. } => ("invalid_response", Some(status)),
        CoboOAuthError::ResponseSignature { .. } => ("response_signature", None),
        CoboOAuthError::Store { .. } => ("store", None),
        CoboOAuthError::AuthorizationRequired { status, .. } => ("authorization_required", Some(status)),
        CoboOAuthError::Internal { .. } => ("internal", None),
    };
    match status {
        Some(status) => format!("error={kind} status={status}"),
        None => format!("error={kind}"),
    }
}
