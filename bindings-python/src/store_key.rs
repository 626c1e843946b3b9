//! `StoreKey`: the key the file and Redis stores seal tokens with, and its seal/open
//! pair for a store of your own.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};

use crate::errors::Error;
use crate::objects::AppKey;
use crate::stored::StoredToken;

/// The key the file and Redis stores seal tokens with (XChaCha20-Poly1305, the org id
/// bound), derived by HKDF-SHA256. ``repr()`` shows nothing of it.
#[pyclass(frozen, module = "cobo_oauth")]
pub(crate) struct StoreKey {
    pub(crate) inner: Arc<cobo_oauth::StoreKey>,
}

#[pymethods]
impl StoreKey {
    /// Derived from the app key: what the built-in stores use unless given a key.
    #[classmethod]
    fn from_app_key(_cls: &Bound<'_, PyType>, app_key: &Bound<'_, AppKey>) -> Self {
        StoreKey { inner: Arc::new(cobo_oauth::StoreKey::from_app_key(Arc::clone(&app_key.get().inner))) }
    }

    /// Derived from 32 bytes the app keeps apart from its app key (a secret manager).
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, key: Vec<u8>) -> Result<Self, Error> {
        Ok(StoreKey { inner: Arc::new(cobo_oauth::StoreKey::from_bytes(key)?) })
    }

    /// The token sealed for ``org_id``.
    fn seal<'py>(&self, py: Python<'py>, org_id: String, token: &Bound<'py, StoredToken>) -> PyResult<Bound<'py, PyBytes>> {
        let sealed = self.inner.seal(org_id, token.get().to_core()).map_err(Error)?;
        Ok(PyBytes::new(py, &sealed))
    }

    /// What ``seal`` sealed for ``org_id``; None when it does not open (another key,
    /// another org): treat it as missing.
    fn open(&self, org_id: String, sealed: Vec<u8>) -> Result<Option<StoredToken>, Error> {
        Ok(self.inner.open(org_id, sealed)?.map(StoredToken::from))
    }

    fn __repr__(&self) -> &'static str {
        "StoreKey(…)"
    }
}
