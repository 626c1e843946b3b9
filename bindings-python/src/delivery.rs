//! Webhook and callback deliveries: the headers as any web framework gives them (a dict,
//! Starlette's or Werkzeug's `Headers`, or ASGI's raw `[(b"name", b"value")]` pairs).

use std::collections::HashMap;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::convert::{bytes_arg, environment_from_py, type_name};
use crate::errors::Error;

// The signatures below spell the default out (pyo3 shows a constant's as `...`, which
// stubtest refuses): it must stay the core's.
const _: () = assert!(cobo_oauth::DELIVERY_MAX_AGE_SECS == 300);

/// Checks a webhook or callback delivery: raw body, headers in any case, timestamp age.
#[pyfunction]
#[pyo3(signature = (body, headers, environment, max_age_secs = 300))]
pub(crate) fn verify_delivery(
    py: Python<'_>,
    body: &Bound<'_, PyAny>,
    headers: &Bound<'_, PyAny>,
    environment: &Bound<'_, PyAny>,
    max_age_secs: u64,
) -> PyResult<()> {
    let body = bytes_arg(body, "body")?;
    let headers = headers_arg(headers)?;
    let environment = environment_from_py(environment)?;
    Ok(py.detach(|| cobo_oauth::verify_delivery(body, headers, environment, max_age_secs)).map_err(Error)?)
}

/// The plain-text body Cobo expects in answer to a callback: "ok" or "deny".
#[pyfunction]
pub(crate) fn callback_answer(approve: bool) -> String {
    cobo_oauth::callback_answer(approve)
}

/// A mapping (anything with `items()`) or an iterable of (name, value) pairs, each str
/// or bytes (latin-1, as HTTP header bytes are).
pub(crate) fn headers_arg(headers: &Bound<'_, PyAny>) -> PyResult<HashMap<String, String>> {
    let pairs = match headers.getattr(pyo3::intern!(headers.py(), "items")) {
        Ok(items) => items.call0()?,
        Err(_) => headers.clone(),
    };
    let iterator = pairs.try_iter().map_err(|_| {
        PyTypeError::new_err(format!("headers must be a mapping or (name, value) pairs, not {}", type_name(headers)))
    })?;
    let mut map = HashMap::new();
    for pair in iterator {
        let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair?.extract()?;
        map.insert(text(&name)?, text(&value)?);
    }
    Ok(map)
}

fn text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().iter().map(|&b| char::from(b)).collect());
    }
    value
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("header names and values must be str or bytes, not {}", type_name(value))))
}
