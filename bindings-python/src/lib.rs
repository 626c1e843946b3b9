//! `cobo_oauth._native`: the Python binding of the cobo-oauth core, mirroring
//! `core/src/cobo_oauth.udl`. The package `cobo_oauth` re-exports it; the exceptions
//! and the `Environment` enum are defined in Python and used from here.

mod completions;
mod convert;
mod delivery;
mod errors;
mod logging;
mod manager;
mod objects;
mod records;
mod refusal;
mod store;
mod store_key;
mod stored;

use pyo3::prelude::*;

use crate::convert::{bytes_arg, environment_from_py};
use crate::errors::Error;

/// Checks a webhook or callback delivery from Cobo against the environment's key. Does no I/O.
#[pyfunction]
fn verify_webhook(
    py: Python<'_>,
    body: &Bound<'_, PyAny>,
    timestamp: String,
    signature: String,
    environment: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let body = bytes_arg(body, "body")?;
    let environment = environment_from_py(environment)?;
    Ok(py.detach(|| cobo_oauth::verify_webhook(body, timestamp, signature, environment)).map_err(Error)?)
}

/// As `verify_webhook`, with an explicit Cobo public key (64 hex chars).
#[pyfunction]
fn verify_webhook_with_key(
    py: Python<'_>,
    body: &Bound<'_, PyAny>,
    timestamp: String,
    signature: String,
    public_key_hex: String,
) -> PyResult<()> {
    let body = bytes_arg(body, "body")?;
    Ok(py.detach(|| cobo_oauth::verify_webhook_with_key(body, timestamp, signature, public_key_hex)).map_err(Error)?)
}

/// The canonical CoboAuth string `METHOD|PATH|nonce|QUERY|BODY`.
#[pyfunction]
fn canonical_content(method: String, path: String, nonce: String, query: String, body: String) -> String {
    cobo_oauth::canonical_content(method, path, nonce, query, body)
}

/// SHA-256(SHA-256(content)) as hex.
#[pyfunction]
fn content_digest(content: String) -> String {
    cobo_oauth::content_digest(content)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // pyo3's PanicException: a Python store that raises it must not brick an org (the
    // tests need the class, which pyo3 does not export).
    m.add("_PanicException", m.py().get_type::<pyo3::panic::PanicException>())?;
    logging::install();
    m.add_class::<objects::AppKey>()?;
    m.add_class::<objects::ResponseVerifier>()?;
    m.add_class::<objects::OAuthClient>()?;
    m.add_class::<completions::Completions>()?;
    m.add_class::<completions::Call>()?;
    m.add_class::<records::OrgToken>()?;
    m.add_class::<records::TokenLease>()?;
    m.add_class::<records::SignedRequest>()?;
    m.add_class::<records::ClientConfig>()?;
    m.add_class::<stored::StoredToken>()?;
    m.add_class::<stored::VersionedToken>()?;
    m.add_class::<manager::TokenManagerConfig>()?;
    m.add_class::<manager::TokenManager>()?;
    m.add_class::<store::TokenStore>()?;
    m.add_class::<store_key::StoreKey>()?;
    m.add_function(wrap_pyfunction!(store::memory_token_store, m)?)?;
    m.add_function(wrap_pyfunction!(store::file_token_store, m)?)?;
    m.add_function(wrap_pyfunction!(store::redis_token_store, m)?)?;
    m.add_function(wrap_pyfunction!(store::coordinated_token_store, m)?)?;
    m.add_function(wrap_pyfunction!(verify_webhook, m)?)?;
    m.add_function(wrap_pyfunction!(verify_webhook_with_key, m)?)?;
    m.add_function(wrap_pyfunction!(delivery::verify_delivery, m)?)?;
    m.add_function(wrap_pyfunction!(delivery::callback_answer, m)?)?;
    m.add_function(wrap_pyfunction!(canonical_content, m)?)?;
    m.add_function(wrap_pyfunction!(content_digest, m)?)?;
    m.add_function(wrap_pyfunction!(refusal::classify_refusal, m)?)?;
    // The enum classify_refusal answers with (defined in Python, like Environment), and
    // the core's resend budget for CoboAuth refusals, which the request hooks follow.
    m.add("Refusal", refusal::refusal_class(m.py())?)?;
    m.add("_COBOAUTH_RESENDS", cobo_oauth::COBOAUTH_RESENDS)?;
    Ok(())
}
