//! Python values the core has no type for: the `Environment` enum (defined in Python),
//! aware UTC datetimes, bytes-like and integer arguments.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cobo_oauth::Environment;
use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyInt, PyType};

use crate::errors::invalid_argument;

fn environment_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    CLASS.import(py, "cobo_oauth.environment", "Environment")
}

/// `Environment.DEV` … from the Python enum; anything else is a TypeError.
pub(crate) fn environment_from_py(value: &Bound<'_, PyAny>) -> PyResult<Environment> {
    let py = value.py();
    if !value.is_instance(environment_class(py)?)? {
        return Err(PyTypeError::new_err(format!(
            "environment must be a cobo_oauth.Environment, not {}",
            type_name(value)
        )));
    }
    let name: String = value.getattr(pyo3::intern!(py, "name"))?.extract()?;
    match name.as_str() {
        "DEV" => Ok(Environment::Dev),
        "SANDBOX" => Ok(Environment::Sandbox),
        "PROD" => Ok(Environment::Prod),
        other => Err(invalid_argument(format!("unknown environment {other}"))),
    }
}

pub(crate) fn environment_name(environment: Environment) -> &'static str {
    match environment {
        Environment::Dev => "DEV",
        Environment::Sandbox => "SANDBOX",
        Environment::Prod => "PROD",
    }
}

pub(crate) fn environment_to_py(py: Python<'_>, environment: Environment) -> PyResult<Bound<'_, PyAny>> {
    environment_class(py)?.getattr(environment_name(environment))
}

/// The `datetime` objects conversions need, imported once.
struct DateTimes {
    datetime: Py<PyType>,
    timedelta: Py<PyType>,
    utc: Py<PyAny>,
    epoch: Py<PyAny>,
    max: Py<PyAny>,
    min: Py<PyAny>,
}

fn datetimes(py: Python<'_>) -> PyResult<&DateTimes> {
    static CELL: PyOnceLock<DateTimes> = PyOnceLock::new();
    CELL.get_or_try_init(py, || {
        let module = py.import("datetime")?;
        let datetime = module.getattr("datetime")?.cast_into::<PyType>()?;
        let utc = module.getattr("timezone")?.getattr("utc")?;
        let with_utc = PyDict::new(py);
        with_utc.set_item("tzinfo", &utc)?;
        let epoch = datetime.call((1970, 1, 1), Some(&with_utc))?;
        let max = datetime.getattr("max")?.call_method("replace", (), Some(&with_utc))?;
        let min = datetime.getattr("min")?.call_method("replace", (), Some(&with_utc))?;
        Ok::<_, PyErr>(DateTimes {
            timedelta: module.getattr("timedelta")?.cast_into::<PyType>()?.unbind(),
            datetime: datetime.unbind(),
            utc: utc.unbind(),
            epoch: epoch.unbind(),
            max: max.unbind(),
            min: min.unbind(),
        })
    })
}

/// An aware UTC `datetime`, exact to the microsecond; instants beyond what `datetime`
/// holds (past the year 9999) are clamped to `datetime.max` / `datetime.min` in UTC.
pub(crate) fn utc_datetime(py: Python<'_>, time: SystemTime) -> PyResult<Py<PyAny>> {
    let dt = datetimes(py)?;
    let (sign, offset) = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (1i64, after),
        Err(before) => (-1i64, before.duration()),
    };
    let clamped = || if sign > 0 { dt.max.clone_ref(py) } else { dt.min.clone_ref(py) };
    let Ok(seconds) = i64::try_from(offset.as_secs()) else {
        return Ok(clamped());
    };
    let micros = i64::from(offset.subsec_micros());
    let delta = dt.timedelta.bind(py).call1((0, sign * seconds, sign * micros));
    match delta.and_then(|delta| dt.epoch.bind(py).add(delta)) {
        Ok(value) => Ok(value.unbind()),
        Err(err) if err.is_instance_of::<PyOverflowError>(py) => Ok(clamped()),
        Err(err) => Err(err),
    }
}

/// The instant an aware `datetime` names (one made by `aware_datetime` or `utc_datetime`),
/// exact to the microsecond.
pub(crate) fn system_time(value: &Bound<'_, PyAny>) -> PyResult<SystemTime> {
    let py = value.py();
    let dt = datetimes(py)?;
    let delta = value.sub(dt.epoch.bind(py))?;
    let days: i128 = delta.getattr(pyo3::intern!(py, "days"))?.extract()?;
    let seconds: i128 = delta.getattr(pyo3::intern!(py, "seconds"))?.extract()?;
    let micros: i128 = delta.getattr(pyo3::intern!(py, "microseconds"))?.extract()?;
    let total = (days * 86_400 + seconds) * 1_000_000 + micros;
    let offset = Duration::from_micros(u64::try_from(total.unsigned_abs()).unwrap_or(u64::MAX));
    let time = if total >= 0 { UNIX_EPOCH.checked_add(offset) } else { UNIX_EPOCH.checked_sub(offset) };
    Ok(time.unwrap_or(UNIX_EPOCH))
}

/// An aware `datetime`, converted to UTC; a naive one is an InvalidArgumentError.
pub(crate) fn aware_datetime(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Py<PyAny>> {
    let py = value.py();
    let dt = datetimes(py)?;
    if !value.is_instance(dt.datetime.bind(py))? {
        return Err(PyTypeError::new_err(format!("{name} must be a datetime, not {}", type_name(value))));
    }
    if value.call_method0("utcoffset")?.is_none() {
        return Err(invalid_argument(format!("{name} must be timezone-aware")));
    }
    Ok(value.call_method1("astimezone", (dt.utc.bind(py),))?.unbind())
}

/// `bytes` or `bytearray`, copied: the core takes an owned buffer.
pub(crate) fn bytes_arg(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    if let Ok(bytes) = value.cast::<PyByteArray>() {
        return Ok(bytes.to_vec());
    }
    Err(PyTypeError::new_err(format!("{name} must be bytes or bytearray, not {}", type_name(value))))
}

/// An `int` argument (not a float, str or anything with `__index__`), range-checked by
/// the caller so that an out-of-range value names the argument.
#[derive(Clone, Copy)]
pub(crate) struct Int(pub i128);

impl<'a, 'py> FromPyObject<'a, 'py> for Int {
    type Error = PyErr;

    fn extract(value: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if !value.is_instance_of::<PyInt>() {
            return Err(PyTypeError::new_err(format!("expected an int, not {}", type_name(&value))));
        }
        match value.extract::<i128>() {
            Ok(number) => Ok(Int(number)),
            // Beyond i128: out of every range the caller checks, on the right side.
            Err(_) if value.lt(0)? => Ok(Int(i128::MIN)),
            Err(_) => Ok(Int(i128::MAX)),
        }
    }
}

pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().qualname().map(|name| name.to_string()).unwrap_or_else(|_| "an unknown type".to_owned())
}
