//! What a token store keeps: `StoredToken` (the token and when its refresh token
//! expires) and `VersionedToken` (a coordinated store's record). In a file of their own
//! because the stores (store.rs) and the manager (manager.rs) both use them: manager.rs
//! uses store.rs, and store.rs need not use manager.rs back.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::{aware_datetime, system_time, utc_datetime, Int};
use crate::records::{in_range, OrgToken};

/// What a TokenStore keeps per organization: the last token issued and when its refresh
/// token expires.
#[pyclass(frozen, get_all, module = "cobo_oauth")]
pub(crate) struct StoredToken {
    token: Py<OrgToken>,
    refresh_expires_at: Py<PyAny>,
    /// Set before a renewal presents the refresh token: see the UDL.
    refresh_in_flight: bool,
}

impl StoredToken {
    pub(crate) fn from_core(py: Python<'_>, stored: cobo_oauth::StoredToken) -> PyResult<Self> {
        Ok(StoredToken {
            refresh_expires_at: utc_datetime(py, stored.refresh_expires_at)?,
            token: Py::new(py, OrgToken::from_core(py, stored.token)?)?,
            refresh_in_flight: stored.refresh_in_flight,
        })
    }

    pub(crate) fn to_core(&self, py: Python<'_>) -> PyResult<cobo_oauth::StoredToken> {
        Ok(cobo_oauth::StoredToken {
            token: self.token.get().to_core(py)?,
            refresh_expires_at: system_time(self.refresh_expires_at.bind(py))?,
            refresh_in_flight: self.refresh_in_flight,
        })
    }

    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let in_flight = pyo3::types::PyBool::new(py, self.refresh_in_flight).to_owned().into_any();
        PyTuple::new(py, [self.token.get().fields(py)?.into_any(), self.refresh_expires_at.bind(py).clone(), in_flight])
    }
}

#[pymethods]
impl StoredToken {
    #[new]
    #[pyo3(signature = (*, token, refresh_expires_at, refresh_in_flight = false))]
    fn new(token: Bound<'_, OrgToken>, refresh_expires_at: &Bound<'_, PyAny>, refresh_in_flight: bool) -> PyResult<Self> {
        Ok(StoredToken {
            refresh_expires_at: aware_datetime(refresh_expires_at, "refresh_expires_at")?,
            token: token.unbind(),
            refresh_in_flight,
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "StoredToken(token={}, refresh_expires_at={}, refresh_in_flight={})",
            self.token.bind(py).repr()?,
            self.refresh_expires_at.bind(py).repr()?,
            if self.refresh_in_flight { "True" } else { "False" },
        ))
    }

    fn __eq__(&self, py: Python<'_>, other: PyRef<'_, Self>) -> PyResult<bool> {
        self.fields(py)?.eq(other.fields(py)?)
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        self.fields(py)?.hash()
    }
}

/// A record as a coordinated store holds it: the token (None before the first save or
/// after a delete) and a version, 0 before the first save and bumped by every change.
#[pyclass(frozen, get_all, module = "cobo_oauth")]
pub(crate) struct VersionedToken {
    pub(crate) token: Option<Py<StoredToken>>,
    pub(crate) version: u64,
}

#[pymethods]
impl VersionedToken {
    #[new]
    #[pyo3(signature = (*, token, version))]
    fn new(token: Option<Bound<'_, StoredToken>>, version: Int) -> PyResult<Self> {
        Ok(VersionedToken { token: token.map(Bound::unbind), version: in_range(version, "version", u64::MAX)? })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let token = match &self.token {
            Some(token) => token.bind(py).repr()?.to_string(),
            None => "None".to_owned(),
        };
        Ok(format!("VersionedToken(token={token}, version={})", self.version))
    }
}
