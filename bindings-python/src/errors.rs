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

/// Each variant's class in `cobo_oauth.exceptions` and the fields it is raised with.
macro_rules! classes {
    ($err:expr, $fields:expr, $($variant:ident => $class:literal { $($field:ident),* },)*) => {
        match $err {
            $(CoboOAuthError::$variant { $($field),* } => {
                $($fields.set_item(stringify!($field), $field)?;)*
                $class
            })*
        }
    };
}

fn exception(py: Python<'_>, err: &CoboOAuthError) -> PyResult<PyErr> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || Ok::<_, PyErr>(py.import("cobo_oauth.exceptions")?.unbind()))?;
    let fields = PyDict::new(py);
    let class = classes!(err, fields,
        InvalidKey => "InvalidKeyError" { reason },
        InvalidArgument => "InvalidArgumentError" { reason },
        OAuth => "OAuthError" { status, error, error_description },
        Server => "ServerError" { status, error_code, error_message, error_id },
        Unavailable => "UnavailableError" { status },
        Transport => "TransportError" { reason },
        Timeout => "RequestTimeoutError" { reason },
        InvalidResponse => "InvalidResponseError" { status, reason },
        ResponseSignature => "ResponseSignatureError" { reason },
        Store => "StoreError" { reason },
        AuthorizationRequired => "AuthorizationRequiredError" { org_id, status, error, error_description },
        Internal => "InternalError" { reason },
    );
    let value = module.bind(py).getattr(class)?.call((err.to_string(),), Some(&fields))?;
    Ok(PyErr::from_value(value))
}
