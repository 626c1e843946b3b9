//! What a token store keeps: `StoredToken` (the token and when its refresh token
//! expires) and `VersionedToken` (a coordinated store's record). In a file of their own
//! because the stores (store.rs) and the manager (manager.rs) both use them: manager.rs
//! uses store.rs, and store.rs need not use manager.rs back.

use pyo3::prelude::*;

use crate::convert::{aware_datetime, in_range, Int, UtcTime};
use crate::records::{fields_repr, OrgToken};

/// What a TokenStore keeps per organization: the last token issued and when its refresh
/// token expires.
#[pyclass(frozen, eq, hash, get_all, from_py_object, module = "cobo_oauth")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct StoredToken {
    token: OrgToken,
    refresh_expires_at: UtcTime,
    /// Set before a renewal presents the refresh token: see the UDL.
    refresh_in_flight: bool,
}

impl From<cobo_oauth::StoredToken> for StoredToken {
    fn from(stored: cobo_oauth::StoredToken) -> Self {
        StoredToken {
            token: stored.token.into(),
            refresh_expires_at: stored.refresh_expires_at.into(),
            refresh_in_flight: stored.refresh_in_flight,
        }
    }
}

impl StoredToken {
    pub(crate) fn to_core(&self) -> cobo_oauth::StoredToken {
        cobo_oauth::StoredToken {
            token: self.token.to_core(),
            refresh_expires_at: self.refresh_expires_at.into(),
            refresh_in_flight: self.refresh_in_flight,
        }
    }
}

#[pymethods]
impl StoredToken {
    #[new]
    #[pyo3(signature = (*, token, refresh_expires_at, refresh_in_flight = false))]
    fn new(token: OrgToken, refresh_expires_at: &Bound<'_, PyAny>, refresh_in_flight: bool) -> PyResult<Self> {
        Ok(StoredToken {
            refresh_expires_at: aware_datetime(refresh_expires_at, "refresh_expires_at")?,
            token,
            refresh_in_flight,
        })
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let fields = ["token", "refresh_expires_at", "refresh_in_flight"];
        Ok(format!("StoredToken({})", fields_repr(slf, &fields, &[])?))
    }
}

/// A record as a coordinated store holds it: the token (None before the first save or
/// after a delete) and a version, 0 before the first save and bumped by every change.
#[pyclass(frozen, get_all, module = "cobo_oauth")]
pub(crate) struct VersionedToken {
    pub(crate) token: Option<StoredToken>,
    pub(crate) version: u64,
}

#[pymethods]
impl VersionedToken {
    #[new]
    #[pyo3(signature = (*, token, version))]
    fn new(token: Option<StoredToken>, version: Int) -> PyResult<Self> {
        Ok(VersionedToken { token, version: in_range(version, "version", u64::MAX)? })
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        Ok(format!("VersionedToken({})", fields_repr(slf, &["token", "version"], &[])?))
    }
}
