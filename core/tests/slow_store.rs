//! A Redis that accepts connections and never answers: every caller's store work is
//! its own, bounded by the store's timeout; no caller queues behind another's (one
//! connection per command in flight, no store I/O under an org's lock).

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cobo_oauth::{redis_token_store, AppKey, ClientConfig, CoboOAuthError, OAuthClient, Secret, TokenManager};

/// Accepts connections and keeps them open, silent; counts them.
fn silent_redis() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            open.push(stream);
        }
    });
    (url, accepted)
}

fn callers_do_not_queue(orgs: usize) {
    let (url, accepted) = silent_redis();
    let key = Arc::new(AppKey::generate().unwrap());
    // Nothing listens here: no token request is ever made, the store fails first.
    let config = ClientConfig { total_timeout_ms: 1_000, ..ClientConfig::for_base_url("http://127.0.0.1:9/v2", key.api_key()) };
    let client = Arc::new(OAuthClient::new(key, config).unwrap());
    let store = redis_token_store(Secret::new(url), "silent:".into(), 500, None).unwrap();
    let manager = TokenManager::new(client, "app".into(), Some(store), None).unwrap();
    let connected_at_first_return = Mutex::new(None);
    let started = Instant::now();
    let waited: Vec<_> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..8)
            .map(|i| {
                let (manager, first, accepted) = (&manager, &connected_at_first_return, &accepted);
                scope.spawn(move || {
                    let result = manager.access_token(format!("org-{}", i % orgs));
                    first.lock().unwrap().get_or_insert(accepted.load(Ordering::SeqCst));
                    assert!(matches!(result, Err(CoboOAuthError::Store { .. })), "{result:?}");
                    started.elapsed()
                })
            })
            .collect();
        callers.into_iter().map(|caller| caller.join().unwrap()).collect()
    });
    println!("{orgs} org(s), 8 callers on a silent Redis: returned after {waited:?}");
    let connected = connected_at_first_return.into_inner().unwrap().unwrap();
    assert_eq!(connected, 8, "when the first caller returned, every caller had its own connection");
}

#[test]
fn callers_of_one_org_do_not_queue_behind_a_silent_redis() {
    callers_do_not_queue(1);
}

#[test]
fn callers_of_eight_orgs_do_not_queue_behind_a_silent_redis() {
    callers_do_not_queue(8);
}

/// A store that remembers which threads read it, and answers with a fresh token.
struct Watched(Mutex<Vec<std::thread::ThreadId>>);

impl cobo_oauth::TokenStore for Watched {
    fn load(&self, _: String) -> Result<Option<cobo_oauth::StoredToken>, CoboOAuthError> {
        self.0.lock().unwrap().push(std::thread::current().id());
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        let token = cobo_oauth::OrgToken {
            access_token: Secret::new("stored-access"),
            token_type: "Bearer".into(),
            scope: String::new(),
            expires_in: 3600,
            refresh_token: Secret::new("stored-refresh"),
            expires_at: later,
        };
        Ok(Some(cobo_oauth::StoredToken { token, refresh_expires_at: later, refresh_in_flight: false }))
    }

    fn save(&self, _: String, _: cobo_oauth::StoredToken) -> Result<(), CoboOAuthError> {
        Ok(())
    }

    fn delete(&self, _: String) -> Result<(), CoboOAuthError> {
        Ok(())
    }
}

/// An event loop's call (`token_or_notify`) never reads the store on its own thread.
#[test]
fn an_event_loops_first_call_reads_the_store_on_a_pool_thread() {
    let key = Arc::new(AppKey::generate().unwrap());
    let client = Arc::new(OAuthClient::new(key.clone(), ClientConfig::for_base_url("http://127.0.0.1:9/v2", key.api_key())).unwrap());
    let store = Arc::new(Watched(Mutex::new(Vec::new())));
    let manager = Arc::new(TokenManager::new(client, "app".into(), Some(store.clone()), None).unwrap());
    let (sender, outcome) = std::sync::mpsc::channel();
    let answered = manager.token_or_notify("org".into(), move |result| sender.send(result).unwrap());
    assert!(answered.is_none(), "the first call waits for the store");
    let token = outcome.recv().unwrap().unwrap();
    assert_eq!(token.token.access_token, Secret::new("stored-access"));
    let readers = store.0.lock().unwrap().clone();
    assert_eq!(readers.len(), 1);
    assert_ne!(readers[0], std::thread::current().id(), "the store was read on the caller's thread");
    // Loaded: the next call is answered at once, without the store.
    assert!(manager.token_or_notify("org".into(), |_| panic!("answered at once")).unwrap().is_ok());
    assert_eq!(store.0.lock().unwrap().len(), 1);
}
