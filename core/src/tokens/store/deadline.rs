//! The deadline a renewal's store calls end by: the built-in stores' waits on this thread
//! (the token file's lock) end with it.

use std::cell::Cell;
use std::time::{Duration, Instant};

thread_local! {
    /// When the store calls this thread makes must have ended (`within`).
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// How long a built-in store waits for a lock when no deadline is set.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// Runs `work` with the built-in stores' waits on this thread (the token file's lock)
/// ending by `deadline`: a renewal's store calls end with it. (Redis commands are bounded
/// by the store's own `timeout_ms`.)
pub(crate) fn within<T>(deadline: Instant, work: impl FnOnce() -> T) -> T {
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEADLINE.with(|cell| cell.set(self.0));
        }
    }
    let _restore = Restore(DEADLINE.with(|cell| cell.replace(Some(deadline))));
    work()
}

/// Until when a store call on this thread may wait.
pub(crate) fn wait_until() -> Instant {
    DEADLINE.with(Cell::get).unwrap_or_else(|| Instant::now() + DEFAULT_WAIT)
}
