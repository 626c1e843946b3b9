//! Where `AsyncOAuthClient`'s calls end: the outcomes waiting for one event loop.
//!
//! A call runs on the core's I/O thread, which also drives every other request of the
//! process. Taking the GIL there would stall all of them while Python code runs on
//! other threads, so the I/O thread only queues the outcome here and writes a byte to a
//! socket the loop watches (`loop.add_reader`). `drain`, run by the loop on its own
//! thread, converts the outcomes as the blocking methods do (the same `OrgToken`, the
//! same exception classes) and hands them to the loop's futures. On a loop without
//! `add_reader` (Windows' proactor) the I/O thread calls a Python `wake` instead, which
//! takes the GIL.

use std::sync::{Arc, Mutex, PoisonError};

use pyo3::prelude::*;

use crate::errors::Error;
use crate::records::OrgToken;

type Outcome = Result<cobo_oauth::OrgToken, cobo_oauth::CoboOAuthError>;

/// The outcomes of one event loop's calls, and how the loop is woken for them.
#[pyclass(name = "_Completions", module = "cobo_oauth._native", frozen)]
pub(crate) struct Completions {
    shared: Arc<Shared>,
}

struct Shared {
    /// Each call's future (of the loop) and outcome, in the order the calls ended.
    done: Mutex<Vec<(Py<PyAny>, Outcome)>>,
    wake: Wake,
}

enum Wake {
    #[cfg(unix)]
    Socket { watched: std::os::unix::net::UnixStream, written: std::os::unix::net::UnixStream },
    Call(Py<PyAny>),
}

#[pymethods]
impl Completions {
    /// Outcomes woken through a socket pair (`fileno()` for `add_reader`); with `wake`,
    /// or where there is no socket pair, by calling `wake()` from the I/O thread instead.
    #[new]
    #[pyo3(signature = (wake = None))]
    fn new(wake: Option<Py<PyAny>>) -> PyResult<Self> {
        let wake = match wake {
            Some(call) => Wake::Call(call),
            #[cfg(unix)]
            None => {
                let (watched, written) = std::os::unix::net::UnixStream::pair()?;
                watched.set_nonblocking(true)?;
                written.set_nonblocking(true)?;
                Wake::Socket { watched, written }
            }
            #[cfg(not(unix))]
            None => return Err(pyo3::exceptions::PyValueError::new_err("no socket pair here: pass wake")),
        };
        Ok(Completions { shared: Arc::new(Shared { done: Mutex::new(Vec::new()), wake }) })
    }

    /// The socket `add_reader` watches; -1 when woken by a call.
    fn fileno(&self) -> i64 {
        match &self.shared.wake {
            #[cfg(unix)]
            Wake::Socket { watched, .. } => i64::from(std::os::fd::AsRawFd::as_raw_fd(watched)),
            Wake::Call(_) => -1,
        }
    }

    /// The outcomes that arrived, as `(future, result, error)`; empties the socket first,
    /// so an outcome queued after it wakes the loop again.
    fn drain(&self, py: Python<'_>) -> Vec<(Py<PyAny>, Option<Py<OrgToken>>, Option<Py<PyAny>>)> {
        #[cfg(unix)]
        if let Wake::Socket { watched, .. } = &self.shared.wake {
            let mut bytes = [0u8; 64];
            while matches!(std::io::Read::read(&mut &*watched, &mut bytes), Ok(n) if n > 0) {}
        }
        let done = std::mem::take(&mut *self.shared.done.lock().unwrap_or_else(PoisonError::into_inner));
        done.into_iter()
            .map(|(future, outcome)| {
                let converted = outcome.map_err(|err| PyErr::from(Error(err))).and_then(|token| {
                    let token = OrgToken::from_core(py, token)?;
                    Py::new(py, token)
                });
                match converted {
                    Ok(token) => (future, Some(token), None),
                    Err(err) => (future, None, Some(err.into_value(py).into_any())),
                }
            })
            .collect()
    }
}

impl Completions {
    /// What the I/O thread calls when a call for `future` ends: queues the outcome and,
    /// if the queue was empty, wakes the loop. Never takes the GIL on a socket pair.
    pub(crate) fn notify(&self, future: Py<PyAny>) -> impl FnOnce(Outcome) + Send + 'static {
        let shared = Arc::clone(&self.shared);
        move |outcome| {
            let was_empty = {
                let mut done = shared.done.lock().unwrap_or_else(PoisonError::into_inner);
                done.push((future, outcome));
                done.len() == 1
            };
            if was_empty {
                shared.wake();
            }
        }
    }
}

impl Shared {
    fn wake(&self) {
        match &self.wake {
            // A full socket already holds a wake-up the loop has not read.
            #[cfg(unix)]
            Wake::Socket { written, .. } => drop(std::io::Write::write(&mut &*written, &[1])),
            Wake::Call(call) => Python::attach(|py| {
                if let Err(err) = call.call0(py) {
                    err.write_unraisable(py, None);
                }
            }),
        }
    }
}
