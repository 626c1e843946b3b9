//! Token stores: the built-in ones (`memory_token_store`, `file_token_store`) as the
//! `TokenStore` class, and any Python object with `load`/`save`/`delete` methods (the
//! UDL's `[Trait, WithForeign]`) as a core `TokenStore`.
//!
//! Locking: the core calls a store while it holds an org's lock, with the interpreter
//! released (every `TokenManager` method detaches). A Python store re-attaches here; no
//! thread ever waits for an org's lock while attached, so this cannot deadlock.

use std::path::PathBuf;
use std::sync::Arc;

use cobo_oauth::CoboOAuthError;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::convert::type_name;
use crate::errors::{invalid_argument, Error};
use crate::manager::StoredToken;
use crate::records::quoted;

/// A token store implemented in Rust; the `TokenManager` calls it directly.
#[pyclass(frozen, module = "cobo_oauth")]
pub(crate) struct TokenStore {
    pub(crate) inner: Arc<dyn cobo_oauth::TokenStore>,
    description: String,
}

#[pymethods]
impl TokenStore {
    /// The token saved for this org, or None.
    fn load(&self, py: Python<'_>, org_id: String) -> PyResult<Option<StoredToken>> {
        let inner = &self.inner;
        let loaded = py.detach(|| inner.load(org_id)).map_err(Error)?;
        loaded.map(|stored| StoredToken::from_core(py, stored)).transpose()
    }

    /// Replaces the org's token.
    fn save(&self, py: Python<'_>, org_id: String, token: &Bound<'_, StoredToken>) -> PyResult<()> {
        let token = token.get().to_core(py)?;
        let inner = &self.inner;
        Ok(py.detach(|| inner.save(org_id, token)).map_err(Error)?)
    }

    /// Forgets the org.
    fn delete(&self, py: Python<'_>, org_id: String) -> PyResult<()> {
        let inner = &self.inner;
        Ok(py.detach(|| inner.delete(org_id)).map_err(Error)?)
    }

    fn __repr__(&self) -> String {
        format!("TokenStore({})", self.description)
    }
}

/// A TokenStore in memory: the TokenManager's default. Tokens die with the process.
#[pyfunction]
pub(crate) fn memory_token_store() -> TokenStore {
    TokenStore { inner: cobo_oauth::memory_token_store(), description: "memory".to_owned() }
}

/// A TokenStore in one JSON file (mode 0600), rewritten atomically on every change.
#[pyfunction]
pub(crate) fn file_token_store(py: Python<'_>, path: PathBuf) -> PyResult<TokenStore> {
    let path = path.into_os_string().into_string().map_err(|_| invalid_argument("the token file path must be UTF-8"))?;
    let description = format!("file={}", quoted(py, &path)?);
    Ok(TokenStore { inner: cobo_oauth::file_token_store(path).map_err(Error)?, description })
}

/// A built-in store as it is; any other object must have the three methods.
pub(crate) fn store_from_py(store: &Bound<'_, PyAny>) -> PyResult<Arc<dyn cobo_oauth::TokenStore>> {
    if let Ok(builtin) = store.cast::<TokenStore>() {
        return Ok(Arc::clone(&builtin.get().inner));
    }
    for method in ["load", "save", "delete"] {
        let callable = store.getattr(method).map(|attr| attr.is_callable()).unwrap_or(false);
        if !callable {
            return Err(PyTypeError::new_err(format!(
                "store must be a TokenStore or have load, save and delete methods; {} has no {method}()",
                type_name(store)
            )));
        }
    }
    Ok(Arc::new(PythonStore { object: store.clone().unbind() }))
}

/// A store written in Python, called with the interpreter attached.
struct PythonStore {
    object: Py<PyAny>,
}

/// `Store { reason }` from what the Python store raised: its type and message.
fn store_error(py: Python<'_>, err: &PyErr) -> CoboOAuthError {
    let value = err.value(py);
    let message = value.str().map(|s| s.to_string()).unwrap_or_default();
    let kind = type_name(value.as_any());
    let reason = if message.is_empty() { kind } else { format!("{kind}: {message}") };
    CoboOAuthError::Store { reason }
}

impl cobo_oauth::TokenStore for PythonStore {
    fn load(&self, org_id: String) -> Result<Option<cobo_oauth::StoredToken>, CoboOAuthError> {
        Python::attach(|py| {
            let loaded = self.object.bind(py).call_method1("load", (org_id,)).map_err(|e| store_error(py, &e))?;
            if loaded.is_none() {
                return Ok(None);
            }
            let Ok(stored) = loaded.cast::<StoredToken>() else {
                return Err(CoboOAuthError::Store {
                    reason: format!("load() returned {}, not a StoredToken or None", type_name(&loaded)),
                });
            };
            stored.get().to_core(py).map(Some).map_err(|e| store_error(py, &e))
        })
    }

    fn save(&self, org_id: String, token: cobo_oauth::StoredToken) -> Result<(), CoboOAuthError> {
        Python::attach(|py| {
            let token = StoredToken::from_core(py, token).map_err(|e| store_error(py, &e))?;
            self.object.bind(py).call_method1("save", (org_id, token)).map_err(|e| store_error(py, &e))?;
            Ok(())
        })
    }

    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        Python::attach(|py| {
            self.object.bind(py).call_method1("delete", (org_id,)).map_err(|e| store_error(py, &e))?;
            Ok(())
        })
    }
}
