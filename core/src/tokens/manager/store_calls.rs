//! Calls into the token store, which may be a foreign language's: a panic becomes an
//! error, and the token values it was given or could have read are cut out of its text.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::logging::events;
use crate::tokens::store::{CoordinatedTokenStore, StoredToken, VersionedToken};
use crate::CoboOAuthError;

/// Runs store code, turning a panic (a Rust store's `unwrap`, a Python store's
/// `PanicException`) into a `Store` error.
pub(super) fn guarded<T>(call: impl FnOnce() -> Result<T, CoboOAuthError>) -> Result<T, CoboOAuthError> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|panic| Err(CoboOAuthError::Store { reason: panicked("the token store", &*panic) }))
}

/// The org's record; `known`, the token this process holds, is cut out of an error.
pub(super) fn load(store: &dyn CoordinatedTokenStore, org_id: &str, known: Option<&StoredToken>) -> Result<VersionedToken, CoboOAuthError> {
    guarded(|| store.load_versioned(org_id.to_owned()))
        .map_err(|err| scrubbed(err, known))
        .inspect_err(|err| events::store_failed(org_id, "load", err))
}

/// A store's error without the tokens it was given or could have read: a database
/// driver may quote the values of a failed statement (SQLAlchemy's `[parameters: …]`,
/// MySQL's "Duplicate entry"), and the text reaches logs and callers.
pub(super) fn scrubbed<'a>(err: CoboOAuthError, tokens: impl IntoIterator<Item = &'a StoredToken>) -> CoboOAuthError {
    let CoboOAuthError::Store { mut reason } = err else { return err };
    for stored in tokens {
        for secret in [&stored.token.access_token, &stored.token.refresh_token] {
            if !secret.expose().is_empty() {
                reason = reason.replace(secret.expose(), "<redacted>");
            }
        }
    }
    CoboOAuthError::Store { reason }
}

/// "<what> panicked: <the panic message's first line>".
pub(super) fn panicked(what: &str, panic: &(dyn std::any::Any + Send)) -> String {
    let message = panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    format!("{what} panicked: {}", message.lines().next().unwrap_or("no message"))
}
