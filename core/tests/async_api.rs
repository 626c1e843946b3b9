//! The async surface on tokio against the mock: 1,000 waiters sharing one failure,
//! cancelled callers that still get the rotated token saved, blocking threads and async
//! tasks sharing one renewal, a cached token ready at once (or without a future), the
//! blocking API inside a task. (1,000 waiters sharing one success, the executor's
//! heartbeat and the thread count: async_threads.rs.)

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use cobo_oauth::{AsyncTokenManager, CoboOAuthError, Secret};
use cobo_oauth_mock::{Fault, FaultTarget};

mod common;

use common::{current_thread, Harness, CALLERS, ORG};

#[test]
fn a_thousand_async_callers_share_one_failure() {
    let (h, _) = Harness::with_expired_token();
    h.server.inject_for(Fault::Unsigned { status: 503, retry_after_secs: None, retry_after_as_date: false }, 2, FaultTarget::Any);
    let errors = current_thread().block_on(async {
        let manager = Arc::new(AsyncTokenManager::new(h.manager.clone()));
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let manager = manager.clone();
                tokio::spawn(async move { manager.token(ORG.into()).await })
            })
            .collect();
        let mut errors = Vec::new();
        for caller in callers {
            errors.push(caller.await.unwrap().unwrap_err());
        }
        errors
    });
    assert!(errors.iter().all(|err| matches!(err, CoboOAuthError::Unavailable { status: 503 })), "{:?}", errors[0]);
    let counters = h.server.counters();
    assert_eq!(counters.refresh + counters.get, 1, "one request: {counters:?}");
}

/// Every waiting task is cancelled mid-refresh: the refresh still ends, the rotated
/// token is saved, and the next call makes no request.
#[test]
fn cancelled_callers_leave_the_rotated_token_saved() {
    let (h, old) = Harness::with_expired_token();
    h.slow_refresh(500);
    current_thread().block_on(async {
        let manager = Arc::new(AsyncTokenManager::new(h.manager.clone()));
        let callers: Vec<_> = (0..100)
            .map(|_| {
                let manager = manager.clone();
                tokio::spawn(async move { manager.access_token(ORG.into()).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        for caller in &callers {
            caller.abort();
        }
        for caller in callers {
            assert!(caller.await.unwrap_err().is_cancelled());
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
    });
    let saved = h.store.load(ORG.into()).unwrap().unwrap();
    assert_ne!(saved.token.access_token, old, "the rotated token was saved");
    h.server.reset();
    assert_eq!(h.manager.access_token(ORG.into()).unwrap(), saved.token.access_token);
    assert_eq!(h.server.counters().total, 0);
}

/// Blocking threads and async tasks on one manager: one request between them.
#[test]
fn blocking_and_async_callers_share_one_renewal() {
    let (h, _) = Harness::with_expired_token();
    h.slow_refresh(300);
    let blocking: Vec<_> = (0..16)
        .map(|_| {
            let manager = h.manager.clone();
            std::thread::spawn(move || manager.access_token(ORG.into()).unwrap())
        })
        .collect();
    let from_tasks = current_thread().block_on(async {
        let manager = AsyncTokenManager::new(h.manager.clone());
        let tasks = (0..16).map(|_| manager.access_token(ORG.into()));
        let mut tokens = Vec::new();
        for task in tasks {
            tokens.push(task.await.unwrap());
        }
        tokens
    });
    let from_threads: Vec<Secret> = blocking.into_iter().map(|thread| thread.join().unwrap()).collect();
    assert!(from_threads.iter().chain(&from_tasks).all(|token| *token == from_tasks[0]));
    assert_eq!(h.server.counters().refresh, 1);
}

/// A fresh token is ready on the first poll: no task switch, no thread. Without a
/// future, `cached_access_token` gives it too, and nothing for an expired one.
#[test]
fn a_cached_token_is_ready_at_once() {
    let (h, _) = Harness::with_expired_token();
    let manager = AsyncTokenManager::new(h.manager.clone());
    assert_eq!(manager.cached_access_token(ORG.into()), None, "an expired token is not served");
    let token = h.manager.access_token(ORG.into()).unwrap();
    assert_eq!(manager.cached_access_token(ORG.into()), Some(token.clone()));
    let mut future = std::pin::pin!(manager.authorization_header(ORG.into()));
    let waker = std::task::Waker::noop();
    match future.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
        std::task::Poll::Ready(header) => assert_eq!(header.unwrap().expose(), format!("Bearer {}", token.expose())),
        std::task::Poll::Pending => panic!("a cached token was not ready on the first poll"),
    }
}

/// Misuse: the blocking API called from inside a tokio task. It must not hang or
/// panic: a cached token is served; a renewal it would have to wait for blocks that
/// worker thread (as any blocking call does) and still completes.
#[test]
fn the_blocking_api_inside_a_tokio_task_works_and_never_hangs() {
    let (h, _) = Harness::with_expired_token();
    let manager = h.manager.clone();
    let renewed = current_thread().block_on(async move { tokio::spawn(async move { manager.access_token(ORG.into()) }).await.unwrap() });
    let renewed = renewed.unwrap();
    let manager = h.manager.clone();
    let cached = current_thread().block_on(async move { manager.access_token(ORG.into()) }).unwrap();
    assert_eq!(renewed, cached);
}
