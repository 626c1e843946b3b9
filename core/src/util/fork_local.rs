//! Surviving `fork()` (gunicorn `--preload`, Celery prefork, `multiprocessing`).
//!
//! A forked child has one thread: the parent's other threads, among them reqwest's
//! runtime thread and any thread that held a lock or ran a renewal, do not exist in it.
//! Everything that such a thread could leave behind lives in a `ForkLocal`: the child
//! gets a fresh value, made from the inherited one where that is safe, and the
//! inherited one is leaked, never dropped (dropping reqwest's client in the child
//! panics, and a lock it held would never be released).

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, Once};

static GENERATION: AtomicU64 = AtomicU64::new(0);

#[cfg(unix)]
extern "C" fn in_child() {
    // Async-signal-safe: a single atomic add.
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// Counts the forks this process descends from; registers the fork handler first.
pub(crate) fn generation() -> u64 {
    static WATCH: Once = Once::new();
    WATCH.call_once(|| {
        #[cfg(unix)]
        {
            extern "C" {
                fn pthread_atfork(
                    prepare: Option<extern "C" fn()>,
                    parent: Option<extern "C" fn()>,
                    child: Option<extern "C" fn()>,
                ) -> std::os::raw::c_int;
            }
            // SAFETY: registers a handler that only touches an atomic. It can fail only
            // for lack of memory; forks are then not noticed, as before this module.
            unsafe {
                pthread_atfork(None, None, Some(in_child));
            }
        }
    });
    GENERATION.load(Ordering::Acquire)
}

/// A value per process: after a fork the first `get` in the child replaces it with
/// `inherit(&parent's value)`.
pub(crate) struct ForkLocal<T> {
    current: AtomicPtr<Slot<T>>,
    inherit: fn(&T) -> T,
}

struct Slot<T> {
    generation: u64,
    value: T,
}

impl<T> ForkLocal<T> {
    pub(crate) fn new(value: T, inherit: fn(&T) -> T) -> Self {
        let slot = Box::new(Slot { generation: generation(), value });
        ForkLocal { current: AtomicPtr::new(Box::into_raw(slot)), inherit }
    }

    pub(crate) fn get(&self) -> &T {
        let now = generation();
        loop {
            let current = self.current.load(Ordering::Acquire);
            // SAFETY: slots are freed only in `drop` (which has `&mut self`); a slot
            // replaced after a fork is leaked, so `current` stays valid for `&self`.
            let slot = unsafe { &*current };
            if slot.generation == now {
                return &slot.value;
            }
            let fresh = Box::into_raw(Box::new(Slot { generation: now, value: (self.inherit)(&slot.value) }));
            match self.current.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {} // the parent's slot is leaked on purpose
                // SAFETY: `fresh` was never shared.
                Err(_) => drop(unsafe { Box::from_raw(fresh) }),
            }
        }
    }
}

impl<T> Drop for ForkLocal<T> {
    fn drop(&mut self) {
        let current = *self.current.get_mut();
        // SAFETY: `&mut self`: nobody else sees the slot. A slot from before a fork is
        // leaked: its value may hold a dead thread's runtime or lock.
        let slot = unsafe { Box::from_raw(current) };
        if slot.generation != generation() {
            std::mem::forget(slot);
        }
    }
}

// SAFETY: a ForkLocal hands out `&T` only, like the `T` it holds.
unsafe impl<T: Send + Sync> Send for ForkLocal<T> {}
unsafe impl<T: Send + Sync> Sync for ForkLocal<T> {}

/// `inherit` for a mutex: the parent's data when no (now dead) thread held the lock at
/// the fork, else a fresh default.
pub(crate) fn inherit_unlocked<T: Clone + Default>(parent: &Mutex<T>) -> Mutex<T> {
    Mutex::new(parent.try_lock().map(|data| data.clone()).unwrap_or_default())
}

impl<T: std::fmt::Debug> std::fmt::Debug for ForkLocal<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}
