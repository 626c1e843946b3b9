//! Threads that run blocking calls for futures (`AsyncOAuthClient`): a thread that
//! finished a call waits a while for the next one, so a call usually costs a channel
//! send, not a thread start. As many threads as calls in flight; idle ones end after
//! `IDLE`. Per process: a forked child starts with none.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use once_cell::sync::Lazy;

use crate::fork::ForkLocal;
use crate::sync::lock;

type Job = Box<dyn FnOnce() + Send>;

const IDLE: Duration = Duration::from_secs(30);

struct Pool {
    jobs: Mutex<Sender<Job>>,
    waiting: Arc<Mutex<Receiver<Job>>>,
    /// Threads blocked in `recv`, ready for a job.
    idle: Arc<AtomicUsize>,
}

impl Pool {
    fn new() -> Pool {
        let (jobs, waiting) = mpsc::channel();
        Pool { jobs: Mutex::new(jobs), waiting: Arc::new(Mutex::new(waiting)), idle: Arc::new(AtomicUsize::new(0)) }
    }
}

static POOL: Lazy<ForkLocal<Pool>> = Lazy::new(|| ForkLocal::new(Pool::new(), |_| Pool::new()));

/// Runs `job` on a pool thread; Err if none is idle and the OS refuses a new one.
pub(crate) fn run(job: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    let pool = POOL.get();
    // Claim an idle thread, or start one: either way one thread will take this job.
    let claimed = pool.idle.fetch_update(Ordering::AcqRel, Ordering::Acquire, |idle| idle.checked_sub(1)).is_ok();
    if !claimed {
        let (waiting, idle) = (Arc::clone(&pool.waiting), Arc::clone(&pool.idle));
        std::thread::Builder::new().name("cobo-oauth-call".into()).spawn(move || work(&waiting, &idle))?;
    }
    // The receiver lives as long as the pool; a send cannot fail.
    let _ = lock(&pool.jobs).send(Box::new(job));
    Ok(())
}

fn work(waiting: &Mutex<Receiver<Job>>, idle: &AtomicUsize) {
    loop {
        let job = lock(waiting).recv_timeout(IDLE);
        match job {
            Ok(job) => {
                job();
                idle.fetch_add(1, Ordering::AcqRel);
            }
            // Idle too long: leave, unless a caller just claimed this thread.
            Err(_) => {
                if idle.fetch_update(Ordering::AcqRel, Ordering::Acquire, |idle| idle.checked_sub(1)).is_ok() {
                    return;
                }
            }
        }
    }
}
