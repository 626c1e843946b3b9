//! `classify_refusal`: the core's table of refusals a request recovers from, for the
//! Python hooks. The `Refusal` enum is defined in Python (`cobo_oauth.refusal`).

use cobo_oauth::Refusal;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use crate::convert::{bytes_arg, in_range, Int};

pub(crate) fn refusal_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    CLASS.import(py, "cobo_oauth.refusal", "Refusal")
}

/// What a verified WaaS answer asks of an HTTP hook, told by status and `error_code`:
/// `Refusal.COBO_AUTH` (resend freshly signed), `Refusal.ACCESS_TOKEN` (invalidate the
/// token, resend once) or None when the answer is final. Only a 401 or a 500 can be a
/// refusal; other bodies are not parsed.
#[pyfunction]
pub(crate) fn classify_refusal<'py>(
    py: Python<'py>,
    status: Int,
    body: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let status: u16 = in_range(status, "status", u64::from(u16::MAX))?;
    let body = bytes_arg(body, "body")?;
    let name = match cobo_oauth::classify_refusal(status, body) {
        None => return Ok(None),
        Some(Refusal::CoboAuth) => "COBO_AUTH",
        Some(Refusal::AccessToken) => "ACCESS_TOKEN",
    };
    Ok(Some(refusal_class(py)?.getattr(name)?))
}
