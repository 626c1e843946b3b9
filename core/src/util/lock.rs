//! Locking that survives a panicking thread.

use std::sync::{Mutex, MutexGuard};

/// Every critical section in this crate leaves its data whole, so a lock poisoned by a
/// panicking thread is still safe to use (and panicking again would cross the FFI).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
