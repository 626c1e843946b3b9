//! A Python thread state kept on each of the core's pool threads (`AsyncOAuthClient`'s
//! calls), from its first call to its exit.
//!
//! A thread Python did not start gets a fresh thread state from every `Python::attach`
//! and loses it at the end: an allocation, and an mmap and munmap of the thread's frame
//! stack (16 KiB) on each call; the munmap costs every other CPU running the process a
//! TLB flush. Holding one `PyGILState_Ensure` for the thread's life (the GIL released at
//! once) makes each later attach reuse that state. It is given back when the thread
//! ends, after the pool's idle timeout, unless the interpreter is finalizing by then.

use std::cell::RefCell;

use pyo3::ffi;

struct Kept {
    gilstate: ffi::PyGILState_STATE,
    saved: *mut ffi::PyThreadState,
}

impl Drop for Kept {
    fn drop(&mut self) {
        // SAFETY: on the thread that made `saved` (thread locals die on their thread),
        // which does not hold the GIL (an attach never spans the thread's exit); the pair
        // undoes `keep`'s. Not during or after finalization: taking the GIL then could end
        // the thread inside this destructor.
        unsafe {
            if ffi::Py_IsInitialized() != 0 {
                ffi::PyEval_RestoreThread(self.saved);
                ffi::PyGILState_Release(self.gilstate);
            }
        }
    }
}

thread_local! {
    static KEPT: RefCell<Option<Kept>> = const { RefCell::new(None) };
}

/// Keeps a Python thread state on this thread until it exits. Call it detached (the GIL
/// not held by this thread); the first call on a thread takes the GIL once.
pub(crate) fn keep() {
    // `try_with`: during the thread's own exit there is nothing left to keep.
    let _ = KEPT.try_with(|kept| {
        let Ok(mut kept) = kept.try_borrow_mut() else { return };
        if kept.is_none() {
            // SAFETY: the interpreter is initialized (this module is loaded) and this
            // thread is detached: Ensure attaches (creating the thread state), SaveThread
            // detaches again, keeping it.
            unsafe {
                let gilstate = ffi::PyGILState_Ensure();
                let saved = ffi::PyEval_SaveThread();
                *kept = Some(Kept { gilstate, saved });
            }
        }
    });
}
