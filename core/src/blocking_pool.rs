//! Threads that run blocking work for async callers (the renewals `AsyncTokenManager`
//! starts): a thread that finished a job waits a while for
//! the next one, so a job usually costs a wake-up, not a thread start. One thread per
//! job in flight up to `MAX_THREADS`; beyond that jobs wait their turn in order, so a
//! thousand orgs renewing at once cost `MAX_THREADS` threads, not a thousand. Idle
//! threads end after `IDLE`. Per process: a forked child starts with none.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use once_cell::sync::Lazy;

use crate::fork::ForkLocal;
use crate::sync::lock;

type Job = Box<dyn FnOnce() + Send>;

const IDLE: Duration = Duration::from_secs(30);

/// Enough for every org of a large app to renew at once in a few rounds; few enough
/// to stay far from a container's thread limit.
pub(crate) const MAX_THREADS: usize = 64;

#[derive(Default)]
struct Pool {
    state: Mutex<State>,
    queued: Condvar,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    /// Threads waiting for a job. Each queued job is promised to one of them, so a job
    /// queued while `idle > jobs.len()` needs no new thread.
    idle: usize,
}

static POOL: Lazy<ForkLocal<Pool>> = Lazy::new(|| ForkLocal::new(Pool::default(), |_| Pool::default()));

/// Runs `job` on a pool thread: a waiting one, else a new one, else (at `MAX_THREADS`)
/// the first to finish. Err, with `job` dropped unrun, only if a thread was needed and
/// the OS refused it.
pub(crate) fn run(job: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    let pool: &'static Pool = POOL.get();
    let mut state = lock(&pool.state);
    if state.idle > state.jobs.len() || state.threads >= MAX_THREADS {
        state.jobs.push_back(Box::new(job));
        drop(state);
        pool.queued.notify_one();
        return Ok(());
    }
    state.threads += 1;
    drop(state);
    let started = std::thread::Builder::new().name("cobo-oauth-call".into()).spawn(move || work(pool, Box::new(job)));
    if started.is_err() {
        lock(&pool.state).threads -= 1;
    }
    started.map(drop)
}

/// Runs `first`, then queued jobs until none comes for `IDLE`. A job that panics is
/// contained: the thread, and its count, stay.
fn work(pool: &'static Pool, first: Job) {
    let contained = |job: Job| drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)));
    contained(first);
    let mut state = lock(&pool.state);
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            contained(job);
            state = lock(&pool.state);
            continue;
        }
        state.idle += 1;
        let (woken, waited) = pool.queued.wait_timeout(state, IDLE).unwrap_or_else(std::sync::PoisonError::into_inner);
        state = woken;
        state.idle -= 1;
        if waited.timed_out() && state.jobs.is_empty() {
            state.threads -= 1;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc};
    use std::time::Instant;

    /// More jobs than threads: every one runs, never more than MAX_THREADS at once, and
    /// the first MAX_THREADS run side by side (they wait for each other).
    #[test]
    fn jobs_beyond_the_cap_wait_their_turn_and_all_run() {
        let jobs = MAX_THREADS * 3;
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let side_by_side = Arc::new(std::sync::Barrier::new(MAX_THREADS));
        let (done, finished) = mpsc::channel();
        for i in 0..jobs {
            let (running, peak, side_by_side, done) = (running.clone(), peak.clone(), side_by_side.clone(), done.clone());
            run(move || {
                peak.fetch_max(running.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                if i < MAX_THREADS {
                    side_by_side.wait();
                }
                std::thread::sleep(Duration::from_millis(5));
                running.fetch_sub(1, Ordering::SeqCst);
                done.send(i).unwrap();
            })
            .unwrap();
        }
        let mut ran: Vec<usize> = (0..jobs).map(|_| finished.recv_timeout(Duration::from_secs(20)).unwrap()).collect();
        ran.sort_unstable();
        assert_eq!(ran, (0..jobs).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), MAX_THREADS);
        assert!(lock(&POOL.get().state).threads <= MAX_THREADS);
    }

    #[test]
    fn a_panicking_job_keeps_its_thread() {
        let before = Instant::now();
        for _ in 0..MAX_THREADS * 2 {
            run(|| panic!("a job's panic")).unwrap();
        }
        let (done, finished) = mpsc::channel();
        run(move || done.send(()).unwrap()).unwrap();
        finished.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(before.elapsed() < Duration::from_secs(10));
        assert!(lock(&POOL.get().state).threads <= MAX_THREADS);
    }
}
