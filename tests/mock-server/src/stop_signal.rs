//! SIGTERM and SIGINT stop the command-line mock the way closing stdin does, so that it
//! removes its CA file: the default action would end the process before any cleanup.

use std::sync::mpsc::{channel, Receiver, Sender};

/// Whoever stops the mock sends once; the main thread waits on the receiver.
pub(crate) type StopChannel = (Sender<()>, Receiver<()>);

/// A stop channel with SIGTERM and SIGINT already forwarded to it.
pub(crate) fn stop_channel() -> StopChannel {
    let (sender, receiver) = channel();
    forward_to(sender.clone());
    (sender, receiver)
}

/// Blocks SIGTERM and SIGINT in this thread and every thread it starts afterwards (call
/// it before starting the server), then waits for them on a thread of its own, which
/// sends once on `stop`.
#[cfg(unix)]
fn forward_to(stop: Sender<()>) {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before any other use;
    // the calls only read and write it and this thread's signal mask.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || {
        let mut signal: libc::c_int = 0;
        // SAFETY: `set` is an initialised sigset_t and `signal` a valid out-pointer.
        if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
            let _ = stop.send(());
        }
    });
}

#[cfg(not(unix))]
fn forward_to(_stop: Sender<()>) {}
