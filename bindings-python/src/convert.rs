//! Python values the core has no type for: the `Environment` enum (defined in Python),
//! aware UTC datetimes, bytes-like and integer arguments.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cobo_oauth::Environment;
use pyo3::exceptions::PyTypeError;
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

/// A core `Environment` that reads back in Python as the enum's member (a record's field).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Env(pub(crate) Environment);

impl<'py> IntoPyObject<'py> for Env {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        environment_class(py)?.getattr(environment_name(self.0))
    }
}

/// The `datetime` objects conversions need, imported once.
struct DateTimes {
    datetime: Py<PyType>,
    timedelta: Py<PyType>,
    epoch: Py<PyAny>,
}

fn datetimes(py: Python<'_>) -> PyResult<&DateTimes> {
    static CELL: PyOnceLock<DateTimes> = PyOnceLock::new();
    CELL.get_or_try_init(py, || {
        let module = py.import("datetime")?;
        let datetime = module.getattr("datetime")?.cast_into::<PyType>()?;
        let with_utc = PyDict::new(py);
        with_utc.set_item("tzinfo", module.getattr("timezone")?.getattr("utc")?)?;
        Ok::<_, PyErr>(DateTimes {
            epoch: datetime.call((1970, 1, 1), Some(&with_utc))?.unbind(),
            timedelta: module.getattr("timedelta")?.cast_into::<PyType>()?.unbind(),
            datetime: datetime.unbind(),
        })
    })
}

/// An instant as an aware UTC `datetime` holds it: whole microseconds since the epoch,
/// within `datetime.min`..`datetime.max`. The records keep this rather than a `datetime`,
/// so they compare and hash as plain values, and a record rebuilt from its fields equals
/// the original.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct UtcTime(i64);

impl UtcTime {
    /// `datetime.min` and `datetime.max` in UTC, in microseconds since the epoch.
    const MIN: i64 = -62_135_596_800_000_000;
    const MAX: i64 = 253_402_300_799_999_999;

    /// Beyond what `datetime` holds: clamped to `datetime.min` / `datetime.max`.
    fn from_micros(micros: i128) -> Self {
        UtcTime(i64::try_from(micros.clamp(Self::MIN.into(), Self::MAX.into())).unwrap_or(Self::MAX))
    }
}

impl From<SystemTime> for UtcTime {
    /// Truncated toward the epoch to the microsecond.
    fn from(time: SystemTime) -> Self {
        let micros = |offset: Duration| i128::try_from(offset.as_micros()).unwrap_or(i128::MAX);
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self::from_micros(micros(after)),
            Err(before) => Self::from_micros(-micros(before.duration())),
        }
    }
}

impl From<UtcTime> for SystemTime {
    /// The epoch where the platform cannot hold the instant (before 1601 on Windows).
    fn from(UtcTime(micros): UtcTime) -> Self {
        let offset = Duration::from_micros(micros.unsigned_abs());
        let time = if micros >= 0 { UNIX_EPOCH.checked_add(offset) } else { UNIX_EPOCH.checked_sub(offset) };
        time.unwrap_or(UNIX_EPOCH)
    }
}

impl<'py> IntoPyObject<'py> for UtcTime {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    /// An aware UTC `datetime`.
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let dt = datetimes(py)?;
        dt.epoch.bind(py).add(dt.timedelta.bind(py).call1((0, 0, self.0))?)
    }
}

/// The instant of an aware `datetime`; a naive one is an InvalidArgumentError.
pub(crate) fn aware_datetime(value: &Bound<'_, PyAny>, name: &str) -> PyResult<UtcTime> {
    let py = value.py();
    let dt = datetimes(py)?;
    if !value.is_instance(dt.datetime.bind(py))? {
        return Err(PyTypeError::new_err(format!("{name} must be a datetime, not {}", type_name(value))));
    }
    if value.call_method0("utcoffset")?.is_none() {
        return Err(invalid_argument(format!("{name} must be timezone-aware")));
    }
    let delta = value.sub(dt.epoch.bind(py))?;
    let days: i128 = delta.getattr(pyo3::intern!(py, "days"))?.extract()?;
    let seconds: i128 = delta.getattr(pyo3::intern!(py, "seconds"))?.extract()?;
    let micros: i128 = delta.getattr(pyo3::intern!(py, "microseconds"))?.extract()?;
    Ok(UtcTime::from_micros((days * 86_400 + seconds) * 1_000_000 + micros))
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

/// An int in `T`'s range; out of range is an InvalidArgumentError (a ValueError).
pub(crate) fn in_range<T: TryFrom<i128>>(value: Int, name: &str, max: u64) -> PyResult<T> {
    T::try_from(value.0).map_err(|_| invalid_argument(format!("{name} must be between 0 and {max}")))
}

pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().qualname().map(|name| name.to_string()).unwrap_or_else(|_| "an unknown type".to_owned())
}
