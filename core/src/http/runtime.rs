//! The I/O thread: one tokio runtime per process, on a thread of its own, drives every
//! HTTP connection, timeout and retry pause of every `OAuthClient` (as reqwest's blocking
//! client does with a thread per client).
//!
//! A blocking call polls its request on the caller's thread (`block_on`), parked while
//! the I/O thread waits for the network: the caller's thread does the signing and the
//! response's verification, and a call costs two thread wake-ups, as before. An async
//! call runs whole on the I/O thread (`spawn`) and hands its outcome to the caller's
//! event loop from there: two wake-ups too, where a pool thread making the blocking
//! call would add two more.
//!
//! Blocking work for async callers (the renewals `AsyncTokenManager` starts) runs on the
//! runtime's blocking pool (`spawn_blocking`): at most `BLOCKING_THREADS` at once, so a
//! thousand orgs renewing at once take turns; an idle thread waits `KEEP_ALIVE` for the
//! next job, so a job usually costs a wake-up, not a thread start.
//!
//! A forked child starts its own I/O thread on first use (the parent's does not exist
//! in it). A blocking call made on the I/O thread itself (a log sink calling back into
//! the library) would wait for the thread it stops: it fails at once instead.

use std::cell::Cell;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use once_cell::sync::{Lazy, OnceCell};
use tokio::runtime::{Builder, Handle};

use crate::error::{CoboOAuthError, Error};
use crate::util::fork_local::ForkLocal;

/// Started on first use; a start that failed (no thread to be had) is tried again by the next call.
static RUNTIME: Lazy<ForkLocal<OnceCell<Handle>>> = Lazy::new(|| ForkLocal::new(OnceCell::new(), |_| OnceCell::new()));

thread_local! {
    static ON_IO_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Enough for every org of a large app to renew at once in a few rounds; few enough to
/// stay far from a container's thread limit.
pub(crate) const BLOCKING_THREADS: usize = 64;
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// Starts the I/O thread, which runs its runtime for the rest of the process.
fn start() -> Result<Handle, String> {
    let runtime = Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_keep_alive(KEEP_ALIVE)
        .thread_name("cobo-oauth-call")
        .build()
        .map_err(|err| format!("cannot start the I/O runtime: {err}"))?;
    let handle = runtime.handle().clone();
    thread::Builder::new()
        .name("cobo-oauth-io".into())
        .spawn(move || {
            ON_IO_THREAD.with(|on| on.set(true));
            runtime.block_on(std::future::pending::<()>());
        })
        .map_err(|err| format!("cannot start the I/O thread: {err}"))?;
    Ok(handle)
}

fn handle() -> Result<&'static Handle, Error> {
    RUNTIME.get().get_or_try_init(start).map_err(Error::Runtime)
}

/// Runs `future` to its end on this thread, its I/O and timers driven by the I/O thread.
/// Works inside another runtime's task too (blocking that task's thread, as any
/// blocking call does).
pub(crate) fn block_on<T>(future: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    if ON_IO_THREAD.with(Cell::get) {
        return Err(Error::Runtime("a blocking call on the library's I/O thread (from a log sink?) would never end".into()));
    }
    let _context = handle()?.enter();
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}

/// Runs `future` on the I/O thread, which then calls `notify` with its outcome (a panic
/// in the future becomes an `Error::Runtime`). Err, and `notify` dropped uncalled, when
/// there is no I/O thread.
pub(crate) fn spawn<T: Send + 'static>(
    future: impl Future<Output = Result<T, Error>> + Send + 'static,
    notify: impl FnOnce(Result<T, Error>) + Send + 'static,
) -> Result<(), Error> {
    let mut future = Box::pin(future);
    // One task: each poll of the call inside catch_unwind, so a panic ends it with an error.
    let call = std::future::poll_fn(move |context| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.as_mut().poll(context)))
            .unwrap_or_else(|_| Poll::Ready(Err(Error::Runtime("the call panicked".into()))))
    });
    handle()?.spawn(async move { notify(call.await) });
    Ok(())
}

/// Runs `job` on the runtime's blocking pool (a panic in it is contained). Err, with
/// `job` dropped unrun, if there is no runtime or the OS refused every thread.
pub(crate) fn spawn_blocking(job: impl FnOnce() + Send + 'static) -> Result<(), Error> {
    let handle = handle()?;
    let job = move || drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)));
    // tokio panics only when it needs a first thread and the OS refuses it.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(handle.spawn_blocking(job))))
        .map_err(|_| Error::Runtime("the OS refused a thread for the call".into()))
}

/// A one-shot channel whose sender is a callback: a receiver dropped first (a cancelled
/// caller) leaves the sender harmless; tokio's receiver is a future any executor polls.
pub(crate) fn callback_channel<T: Send + 'static>() -> (impl FnOnce(Result<T, CoboOAuthError>) + Send + 'static, Outcome<T>) {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    (move |result| drop(sender.send(result)), Outcome(receiver))
}

pub(crate) struct Outcome<T>(tokio::sync::oneshot::Receiver<Result<T, CoboOAuthError>>);

impl<T> Future for Outcome<T> {
    type Output = Result<T, CoboOAuthError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|received| {
            // A sender dropped uncalled is a bug: every flight lands, even when aborted.
            received.unwrap_or_else(|_| Err(CoboOAuthError::Internal { reason: "the call ended without an outcome".into() }))
        })
    }
}

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    #[test]
    fn block_on_drives_timers_from_any_thread() {
        let started = Instant::now();
        let slept = block_on(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(thread::current().id())
        });
        assert_eq!(slept.unwrap(), thread::current().id(), "polled on the caller's thread");
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn a_spawned_call_that_panics_notifies_an_error_and_the_thread_goes_on() {
        let (sender, outcomes) = mpsc::channel();
        let panicking = sender.clone();
        spawn(async { panic!("a call's panic") }, move |outcome: Result<(), Error>| panicking.send(outcome).unwrap()).unwrap();
        let outcome = outcomes.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(matches!(outcome, Err(Error::Runtime(ref reason)) if reason.contains("panicked")), "{outcome:?}");
        spawn(async { Ok(()) }, move |outcome| sender.send(outcome).unwrap()).unwrap();
        assert!(outcomes.recv_timeout(Duration::from_secs(5)).unwrap().is_ok(), "the I/O thread still runs calls");
    }
}
