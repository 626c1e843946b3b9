//! Where the async calls end: `AsyncOAuthClient`'s calls and `AsyncTokenManager`'s
//! renewals alike. Each outcome waits here for its event loop, next to the awaitable
//! the call's task waits on.
//!
//! A call ends on one of the core's threads: the I/O thread, which also drives every
//! other request of the process, or the pool thread of a renewal, which other callers
//! (blocking or async) wait for. Taking the GIL there would stall them while Python code
//! runs on other threads, so that thread only queues the outcome here and writes a byte
//! to a socket the loop watches (`loop.add_reader`). `drain`, run by the loop on its own
//! thread, converts the outcomes as the blocking methods do (the same records, the same
//! exception classes) and wakes the tasks that await them. On a loop without
//! `add_reader` (Windows' proactor) the ending thread calls a Python `wake` instead,
//! which takes the GIL.

use std::mem;
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::{PyRuntimeError, PyStopIteration};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyWeakrefMethods, PyWeakrefReference};

use crate::errors::Error;

/// An outcome as the ending thread leaves it: converted to Python on the loop's thread.
type Outcome = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// The outcomes of one event loop's calls, and how the loop is woken for them.
#[pyclass(name = "_Completions", module = "cobo_oauth._native", frozen)]
pub(crate) struct Completions {
    /// Weak: the loop keys `aio._loops`, whose values these are; a strong reference
    /// would keep every loop (and its socket pair) alive.
    event_loop: Py<PyWeakrefReference>,
    shared: Arc<Shared>,
}

struct Shared {
    /// Each call and its outcome, in the order the calls ended.
    done: Mutex<Vec<(Py<Call>, Outcome)>>,
    wake: Wake,
}

enum Wake {
    #[cfg(unix)]
    Socket { watched: std::os::unix::net::UnixStream, written: std::os::unix::net::UnixStream },
    Call(Py<PyAny>),
}

#[pymethods]
impl Completions {
    /// The calls of `event_loop`, woken through a socket pair (`fileno()` for
    /// `add_reader`); with `wake`, or where there is no socket pair, by calling `wake()`
    /// from the ending thread instead.
    #[new]
    #[pyo3(signature = (event_loop, wake = None))]
    fn new(event_loop: &Bound<'_, PyAny>, wake: Option<Py<PyAny>>) -> PyResult<Self> {
        let event_loop = PyWeakrefReference::new(event_loop)?.unbind();
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
        Ok(Completions { event_loop, shared: Arc::new(Shared { done: Mutex::new(Vec::new()), wake }) })
    }

    /// The socket `add_reader` watches; -1 when woken by a call.
    fn fileno(&self) -> i64 {
        match &self.shared.wake {
            #[cfg(unix)]
            Wake::Socket { watched, .. } => i64::from(std::os::fd::AsRawFd::as_raw_fd(watched)),
            Wake::Call(_) => -1,
        }
    }

    /// Settles the calls that ended, each waking its task; empties the socket first, so
    /// an outcome queued after it wakes the loop again.
    fn drain(&self, py: Python<'_>) {
        #[cfg(unix)]
        if let Wake::Socket { watched, .. } = &self.shared.wake {
            // One byte per wake-up while the queue was empty: a full buffer means more.
            let mut bytes = [0u8; 64];
            while matches!(std::io::Read::read(&mut &*watched, &mut bytes), Ok(n) if n == bytes.len()) {}
        }
        let done = mem::take(&mut *self.shared.done.lock().unwrap_or_else(PoisonError::into_inner));
        for (call, outcome) in done {
            Call::settle(call.bind(py), outcome(py));
        }
    }
}

impl Completions {
    /// A call of this loop, and what its ending thread calls with the core's outcome:
    /// queues it (`convert` runs later, on the loop's thread) and, if the queue was
    /// empty, wakes the loop. Never takes the GIL on a socket pair.
    pub(crate) fn start<T: Send + 'static>(
        &self,
        py: Python<'_>,
        convert: impl FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    ) -> PyResult<(Py<Call>, impl FnOnce(Result<T, cobo_oauth::CoboOAuthError>) + Send + 'static)> {
        let call = Py::new(py, Call::new(self.event_loop(py)?, State::Pending { awaited: false }))?;
        let (shared, queued) = (Arc::clone(&self.shared), call.clone_ref(py));
        let notify = move |outcome: Result<T, cobo_oauth::CoboOAuthError>| {
            let outcome: Outcome = Box::new(move |py| convert(py, outcome.map_err(Error)?));
            let was_empty = {
                let mut done = shared.done.lock().unwrap_or_else(PoisonError::into_inner);
                done.push((queued, outcome));
                done.len() == 1
            };
            if was_empty {
                shared.wake();
            }
        };
        Ok((call, notify))
    }

    /// A call of this loop that is over before it started (the answer was at hand):
    /// awaiting it returns or raises at once, without a pass of the loop.
    pub(crate) fn ready(&self, py: Python<'_>, outcome: PyResult<Py<PyAny>>) -> PyResult<Py<Call>> {
        Py::new(py, Call::new(self.event_loop(py)?, State::Done(outcome)))
    }

    /// The loop, alive while a coroutine on it calls.
    fn event_loop(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let event_loop = self.event_loop.bind(py).upgrade();
        event_loop.map(Bound::unbind).ok_or_else(|| PyRuntimeError::new_err("the event loop is gone"))
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

/// One call as its task awaits it: a future in the protocol asyncio's `Task` speaks
/// (`_asyncio_future_blocking`, `get_loop`, `add_done_callback`, `result`, `cancel`).
/// `drain` runs the task's wake-up at once, in its context, where an `asyncio.Future`
/// would schedule it for the loop's next iteration: one pass of the loop per call saved.
#[pyclass(name = "_Call", module = "cobo_oauth._native")]
pub(crate) struct Call {
    event_loop: Py<PyAny>,
    /// Set while the awaiting task has yet to see this future; the task clears it.
    #[pyo3(get, set, name = "_asyncio_future_blocking")]
    blocking: bool,
    state: State,
    /// `(callback, context)`, as `add_done_callback` was given them.
    callbacks: Vec<(Py<PyAny>, Py<PyAny>)>,
}

enum State {
    Pending { awaited: bool },
    Done(Result<Py<PyAny>, PyErr>),
    Cancelled(Option<Py<PyAny>>),
}

impl Call {
    fn new(event_loop: Py<PyAny>, state: State) -> Self {
        Call { event_loop, blocking: false, state, callbacks: Vec::new() }
    }

    /// Records the outcome and wakes the task, unless it was cancelled meanwhile (then
    /// the outcome goes unheard, as the call's docs say). No borrow can be held here: only
    /// the loop's thread touches a call, and none is held across a callback.
    fn settle(call: &Bound<'_, Call>, outcome: PyResult<Py<PyAny>>) {
        let py = call.py();
        let callbacks = match call.try_borrow_mut() {
            Ok(mut this) if matches!(this.state, State::Pending { .. }) => {
                this.state = State::Done(outcome);
                mem::take(&mut this.callbacks)
            }
            _ => return,
        };
        // Borrows released first: the task's wake-up reads `result()` and resumes its coroutine.
        for (callback, context) in callbacks {
            let run = context.bind(py).call_method1(pyo3::intern!(py, "run"), (&callback, call));
            if let Err(err) = run {
                err.write_unraisable(py, Some(callback.bind(py)));
            }
        }
    }
}

#[pymethods]
impl Call {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Yields this future to the task once; once it is done, returns its result.
    fn __next__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let py = slf.py();
        let mut this = slf.try_borrow_mut()?;
        match this.state {
            State::Pending { awaited: false } => {
                this.state = State::Pending { awaited: true };
                this.blocking = true;
                drop(this);
                Ok(slf)
            }
            State::Pending { awaited: true } => Err(PyRuntimeError::new_err("await wasn't used with future")),
            _ => Err(PyStopIteration::new_err((this.result(py)?,))),
        }
    }

    fn get_loop(&self, py: Python<'_>) -> Py<PyAny> {
        self.event_loop.clone_ref(py)
    }

    #[pyo3(signature = (callback, *, context = None))]
    fn add_done_callback(slf: Bound<'_, Self>, callback: Py<PyAny>, context: Option<Py<PyAny>>) -> PyResult<()> {
        let py = slf.py();
        let context = match context {
            Some(context) => context,
            None => py.import("contextvars")?.call_method0("copy_context")?.unbind(),
        };
        let mut this = slf.try_borrow_mut()?;
        if matches!(this.state, State::Pending { .. }) {
            this.callbacks.push((callback, context));
            return Ok(());
        }
        let event_loop = this.event_loop.clone_ref(py);
        drop(this);
        call_soon(&event_loop.into_bound(py), callback, &slf, context)
    }

    /// What `result()` and the resumed `await` give: the token, or the call's error.
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.state {
            State::Done(Ok(token)) => Ok(token.clone_ref(py)),
            State::Done(Err(err)) => Err(err.clone_ref(py)),
            State::Cancelled(message) => Err(cancelled_error(py, message.as_ref())?),
            State::Pending { .. } => Err(PyErr::from_value(asyncio(py, "InvalidStateError")?.call1(("Result is not set.",))?)),
        }
    }

    fn done(&self) -> bool {
        !matches!(self.state, State::Pending { .. })
    }

    fn cancelled(&self) -> bool {
        matches!(self.state, State::Cancelled(_))
    }

    /// Called by the task when it is cancelled: wakes it (next loop pass, as asyncio
    /// does) to raise `CancelledError`. The call itself still ends, unheard.
    #[pyo3(signature = (msg = None))]
    fn cancel(slf: Bound<'_, Self>, msg: Option<Py<PyAny>>) -> PyResult<bool> {
        let py = slf.py();
        let mut this = slf.try_borrow_mut()?;
        if !matches!(this.state, State::Pending { .. }) {
            return Ok(false);
        }
        this.state = State::Cancelled(msg);
        this.blocking = false;
        let (event_loop, callbacks) = (this.event_loop.clone_ref(py), mem::take(&mut this.callbacks));
        drop(this);
        let event_loop = event_loop.into_bound(py);
        for (callback, context) in callbacks {
            call_soon(&event_loop, callback, &slf, context)?;
        }
        Ok(true)
    }
}

fn call_soon(event_loop: &Bound<'_, PyAny>, callback: Py<PyAny>, call: &Bound<'_, Call>, context: Py<PyAny>) -> PyResult<()> {
    let py = event_loop.py();
    let keywords = PyDict::new(py);
    keywords.set_item(pyo3::intern!(py, "context"), context)?;
    event_loop.call_method(pyo3::intern!(py, "call_soon"), (callback, call), Some(&keywords))?;
    Ok(())
}

/// `CancelledError(msg)`, or `CancelledError()` when `cancel` was given no message.
fn cancelled_error(py: Python<'_>, message: Option<&Py<PyAny>>) -> PyResult<PyErr> {
    Ok(PyErr::from_value(asyncio(py, "CancelledError")?.call1(PyTuple::new(py, message)?)?))
}

fn asyncio<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    static ASYNCIO: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    ASYNCIO.get_or_try_init(py, || Ok::<_, PyErr>(py.import("asyncio")?.unbind()))?.bind(py).getattr(name)
}
