//! Token stores: the built-in ones (`memory_token_store`, `file_token_store`,
//! `redis_token_store`) as the `TokenStore` class, any Python object with
//! `load`/`save`/`delete` methods (the UDL's `[Trait, WithForeign]`) as a core
//! `TokenStore`, and one with the coordinated methods through `coordinated_token_store`.
//!
//! Locking: the core calls a store while it holds an org's lock, with the interpreter
//! released (every `TokenManager` method detaches). A Python store re-attaches here; no
//! thread ever waits for an org's lock while attached, so this cannot deadlock.

use std::path::PathBuf;
use std::sync::Arc;

use cobo_oauth::CoboOAuthError;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::convert::{in_range, type_name, Int};
use crate::errors::{invalid_argument, Error};
use crate::store_key::StoreKey;
use crate::stored::{StoredToken, VersionedToken};
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
    fn load(&self, py: Python<'_>, org_id: String) -> Result<Option<StoredToken>, Error> {
        Ok(py.detach(|| self.inner.load(org_id))?.map(StoredToken::from))
    }

    /// Replaces the org's token.
    fn save(&self, py: Python<'_>, org_id: String, token: &Bound<'_, StoredToken>) -> Result<(), Error> {
        let token = token.get().to_core();
        Ok(py.detach(|| self.inner.save(org_id, token))?)
    }

    /// Forgets the org.
    fn delete(&self, py: Python<'_>, org_id: String) -> Result<(), Error> {
        Ok(py.detach(|| self.inner.delete(org_id))?)
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

/// A TokenStore in a directory of record files, one per org (see the core's file store),
/// sealed with `store_key` or else the first TokenManager's app key.
#[pyfunction]
#[pyo3(signature = (path, store_key = None))]
pub(crate) fn file_token_store(py: Python<'_>, path: PathBuf, store_key: Option<&Bound<'_, StoreKey>>) -> PyResult<TokenStore> {
    let path = path.into_os_string().into_string().map_err(|_| invalid_argument("the token file path must be UTF-8"))?;
    let description = format!("file={}", quoted(py, &path)?);
    let inner = cobo_oauth::file_token_store(path, store_key.map(|key| Arc::clone(&key.get().inner))).map_err(Error)?;
    Ok(TokenStore { inner, description })
}

/// A TokenStore in Redis that every process and host of an app can share: `redis://`
/// or `rediss://`, user and password from the URL, keys under `key_prefix`.
#[pyfunction]
#[pyo3(
    signature = (url, key_prefix, timeout_ms = Int(2000), store_key = None),
    text_signature = "(url, key_prefix, timeout_ms=2000, store_key=None)"
)]
pub(crate) fn redis_token_store(
    py: Python<'_>,
    url: String,
    key_prefix: String,
    timeout_ms: Int,
    store_key: Option<&Bound<'_, StoreKey>>,
) -> PyResult<TokenStore> {
    let timeout_ms = in_range(timeout_ms, "timeout_ms", u64::MAX)?;
    let description = format!("redis, key_prefix={}", quoted(py, &key_prefix)?);
    let store_key = store_key.map(|key| Arc::clone(&key.get().inner));
    let inner = cobo_oauth::redis_token_store(cobo_oauth::Secret::new(url), key_prefix, timeout_ms, store_key).map_err(Error)?;
    Ok(TokenStore { inner, description })
}

/// A TokenStore over a Python object implementing the coordinated protocol
/// (`load_versioned`, `save_if_version`, `delete`, `acquire_lease`, `extend_lease`,
/// `release_lease`): the TokenManager renews each token once across every process.
#[pyfunction]
pub(crate) fn coordinated_token_store(store: &Bound<'_, PyAny>) -> PyResult<TokenStore> {
    require_methods(store, COORDINATED_METHODS, "a coordinated store")?;
    let description = format!("coordinated {}", type_name(store));
    let inner = cobo_oauth::coordinated_token_store(Arc::new(PythonStore { object: store.clone().unbind() }));
    Ok(TokenStore { inner, description })
}

const COORDINATED_METHODS: &[&str] =
    &["load_versioned", "save_if_version", "delete", "acquire_lease", "extend_lease", "release_lease"];

fn require_methods(store: &Bound<'_, PyAny>, methods: &[&str], what: &str) -> PyResult<()> {
    for method in methods {
        let callable = store.getattr(*method).map(|attr| attr.is_callable()).unwrap_or(false);
        if !callable {
            return Err(PyTypeError::new_err(format!(
                "{what} needs methods {}; {} has no {method}()",
                methods.join(", "),
                type_name(store)
            )));
        }
    }
    Ok(())
}

/// A built-in store as it is; any other object must have the three methods.
pub(crate) fn store_from_py(store: &Bound<'_, PyAny>) -> PyResult<Arc<dyn cobo_oauth::TokenStore>> {
    if let Ok(builtin) = store.cast::<TokenStore>() {
        return Ok(Arc::clone(&builtin.get().inner));
    }
    require_methods(store, &["load", "save", "delete"], "a store that is not a TokenStore")?;
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
        self.call("load", (org_id,), |loaded| match loaded.cast::<StoredToken>() {
            Ok(stored) => Ok(Some(stored.get().to_core())),
            Err(_) if loaded.is_none() => Ok(None),
            Err(_) => Err(format!("{}, not a StoredToken or None", type_name(loaded))),
        })
    }

    fn save(&self, org_id: String, token: cobo_oauth::StoredToken) -> Result<(), CoboOAuthError> {
        self.call("save", (org_id, StoredToken::from(token)), |_| Ok(()))
    }

    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        self.call("delete", (org_id,), |_| Ok(()))
    }
}

impl PythonStore {
    /// Calls `method` with the interpreter attached; its result converted by `convert`.
    fn call<T>(
        &self,
        method: &str,
        args: impl for<'py> pyo3::call::PyCallArgs<'py>,
        convert: impl FnOnce(&Bound<'_, PyAny>) -> Result<T, String>,
    ) -> Result<T, CoboOAuthError> {
        Python::attach(|py| {
            let result = self.object.bind(py).call_method1(method, args).map_err(|e| store_error(py, &e))?;
            convert(&result).map_err(|wrong| CoboOAuthError::Store { reason: format!("{method}() returned {wrong}") })
        })
    }
}

fn boolean(result: &Bound<'_, PyAny>) -> Result<bool, String> {
    result.extract::<bool>().map_err(|_| format!("{}, not a bool", type_name(result)))
}

impl cobo_oauth::CoordinatedTokenStore for PythonStore {
    fn load_versioned(&self, org_id: String) -> Result<cobo_oauth::VersionedToken, CoboOAuthError> {
        self.call("load_versioned", (org_id,), |result| {
            let record = result.cast::<VersionedToken>().map_err(|_| format!("{}, not a VersionedToken", type_name(result)))?;
            let record = record.get();
            Ok(cobo_oauth::VersionedToken { token: record.token.as_ref().map(StoredToken::to_core), version: record.version })
        })
    }

    fn save_if_version(&self, org_id: String, token: cobo_oauth::StoredToken, expected_version: u64) -> Result<bool, CoboOAuthError> {
        self.call("save_if_version", (org_id, StoredToken::from(token), expected_version), boolean)
    }

    fn delete(&self, org_id: String) -> Result<(), CoboOAuthError> {
        self.call("delete", (org_id,), |_| Ok(()))
    }

    fn acquire_lease(&self, org_id: String, owner: String, ttl_ms: u64) -> Result<bool, CoboOAuthError> {
        self.call("acquire_lease", (org_id, owner, ttl_ms), boolean)
    }

    fn extend_lease(&self, org_id: String, owner: String, ttl_ms: u64) -> Result<bool, CoboOAuthError> {
        self.call("extend_lease", (org_id, owner, ttl_ms), boolean)
    }

    fn release_lease(&self, org_id: String, owner: String) -> Result<(), CoboOAuthError> {
        self.call("release_lease", (org_id, owner), |_| Ok(()))
    }
}
