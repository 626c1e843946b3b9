//! No thread per waiter: alone in its test binary, so that no other test's threads are
//! counted. 1,000 tasks on one thread wait for a 2 s refresh: one request, one token for
//! all, a 10 ms heartbeat on the same thread never lags 50 ms, and the process gains a
//! constant number of threads (the renewal's, the mock's connection), not one per waiter.

mod async_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_support::{current_thread, threads, Harness, CALLERS, ORG};
use cobo_oauth::AsyncTokenManager;

#[test]
fn a_thousand_async_callers_share_one_renewal_and_the_executor_keeps_running() {
    let (h, old) = Harness::with_expired_token();
    h.slow_refresh(2000);
    let before = threads();
    let (tokens, worst_lag, peak) = current_thread().block_on(async {
        let async_manager = Arc::new(AsyncTokenManager::new(h.manager.clone()));
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let manager = async_manager.clone();
                tokio::spawn(async move { manager.access_token(ORG.into()).await })
            })
            .collect();
        let heartbeat = tokio::spawn(async {
            let (mut worst, mut peak) = (Duration::ZERO, 0);
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(1800) {
                let asked = Instant::now();
                tokio::time::sleep(Duration::from_millis(10)).await;
                worst = worst.max(asked.elapsed().saturating_sub(Duration::from_millis(10)));
                peak = peak.max(threads());
            }
            (worst, peak)
        });
        let (worst, peak) = heartbeat.await.unwrap();
        let mut tokens = Vec::new();
        for caller in callers {
            tokens.push(caller.await.unwrap().unwrap());
        }
        (tokens, worst, peak)
    });
    assert_eq!(h.server.counters().refresh, 1);
    assert!(tokens.iter().all(|token| *token == tokens[0]) && tokens[0] != old);
    assert!(worst_lag < Duration::from_millis(50), "the heartbeat lagged {worst_lag:?}");
    assert!(peak <= before + 4, "{before} threads before, {peak} while {CALLERS} callers waited");
}

