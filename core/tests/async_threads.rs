//! No thread per waiter: alone in its test binary, so that no other test's threads are
//! counted. 1,000 tasks on one thread wait for a 2 s refresh: one request, one token for
//! all; a heartbeat task on the same thread keeps ticking while every caller waits (a
//! caller blocking the thread would stop it until the renewal ended); and the process
//! gains a few threads (the renewal's, the mock's connection), not one per waiter.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{current_thread, threads, Harness, CALLERS, ORG};
use cobo_oauth::AsyncTokenManager;

#[test]
fn a_thousand_async_callers_share_one_renewal_and_the_executor_keeps_running() {
    let (h, old) = Harness::with_expired_token();
    h.slow_refresh(2000);
    let before = threads();
    let finished = Arc::new(AtomicUsize::new(0));
    let (tokens, ticks_while_all_waited, peak) = current_thread().block_on(async {
        let async_manager = Arc::new(AsyncTokenManager::new(h.manager.clone()));
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (manager, finished) = (async_manager.clone(), finished.clone());
                tokio::spawn(async move {
                    let token = manager.access_token(ORG.into()).await;
                    finished.fetch_add(1, Ordering::SeqCst);
                    token
                })
            })
            .collect();
        let heartbeat = {
            let finished = finished.clone();
            tokio::spawn(async move {
                let (mut ticks, mut peak) = (0, 0);
                while finished.load(Ordering::SeqCst) < CALLERS {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    if finished.load(Ordering::SeqCst) == 0 {
                        ticks += 1;
                    }
                    peak = peak.max(threads());
                }
                (ticks, peak)
            })
        };
        let mut tokens = Vec::new();
        for caller in callers {
            tokens.push(caller.await.unwrap().unwrap());
        }
        let (ticks, peak) = heartbeat.await.unwrap();
        (tokens, ticks, peak)
    });
    assert_eq!(h.server.counters().refresh, 1);
    assert!(tokens.iter().all(|token| *token == tokens[0]) && tokens[0] != old);
    assert!(ticks_while_all_waited > 0, "the executor's thread was blocked while the callers waited");
    assert!(peak < before + CALLERS / 10, "{before} threads before, {peak} while {CALLERS} callers waited");
}
