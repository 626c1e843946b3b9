//! The one conversion from the core's error to a Python exception. The classes live in
//! `cobo_oauth/exceptions.py`; each is raised with the core's message (which never holds
//! a key or a token) and the variant's fields as keyword arguments.

use cobo_oauth::CoboOAuthError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

/// A core error on its way to Python; `?` converts both ways.
pub(crate) struct Error(pub CoboOAuthError);

impl From<CoboOAuthError> for Error {
    fn from(err: CoboOAuthError) -> Self {
        Error(err)
    }
}

impl From<Error> for PyErr {
    fn from(Error(err): Error) -> PyErr {
        Python::attach(|py| exception(py, &err).unwrap_or_else(|failed| failed))
    }
}

/// An `InvalidArgument` raised by the binding itself (a value Python allows but the API does not).
pub(crate) fn invalid_argument(reason: impl Into<String>) -> PyErr {
    Error(CoboOAuthError::InvalidArgument { reason: reason.into() }).into()
}

fn exception(py: Python<'_>, err: &CoboOAuthError) -> PyResult<PyErr> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || Ok::<_, PyErr>(py.import("cobo_oauth.exceptions")?.unbind()))?;
    let fields = PyDict::new(py);
    let class = match err {
        CoboOAuthError::InvalidKey { reason } => {
            fields.set_item("reason", reason)?;
            "InvalidKeyError"
        }
        CoboOAuthError::InvalidArgument { reason } => {
            fields.set_item("reason", reason)?;
            "InvalidArgumentError"
        }
        CoboOAuthError::OAuth { status, error, error_description } => {
            fields.set_item("status", status)?;
            fields.set_item("error", error)?;
            fields.set_item("error_description", error_description)?;
            "OAuthError"
        }
        CoboOAuthError::Server { status, error_code, error_message, error_id } => {
            fields.set_item("status", status)?;
            fields.set_item("error_code", error_code)?;
            fields.set_item("error_message", error_message)?;
            fields.set_item("error_id", error_id)?;
            "ServerError"
        }
        CoboOAuthError::Unavailable { status } => {
            fields.set_item("status", status)?;
            "UnavailableError"
        }
        CoboOAuthError::Transport { reason } => {
            fields.set_item("reason", reason)?;
            "TransportError"
        }
        CoboOAuthError::Timeout { reason } => {
            fields.set_item("reason", reason)?;
            "RequestTimeoutError"
        }
        CoboOAuthError::InvalidResponse { status, reason } => {
            fields.set_item("status", status)?;
            fields.set_item("reason", reason)?;
            "InvalidResponseError"
        }
        CoboOAuthError::ResponseSignature { reason } => {
            fields.set_item("reason", reason)?;
            "ResponseSignatureError"
        }
        CoboOAuthError::Store { reason } => {
            fields.set_item("reason", reason)?;
            "StoreError"
        }
        CoboOAuthError::AuthorizationRequired { org_id, status, error, error_description } => {
            fields.set_item("org_id", org_id)?;
            fields.set_item("status", status)?;
            fields.set_item("error", error)?;
            fields.set_item("error_description", error_description)?;
            "AuthorizationRequiredError"
        }
        CoboOAuthError::Internal { reason } => {
            fields.set_item("reason", reason)?;
            "InternalError"
        }
    };
    let value = module.bind(py).getattr(class)?.call((err.to_string(),), Some(&fields))?;
    Ok(PyErr::from_value(value))
}
