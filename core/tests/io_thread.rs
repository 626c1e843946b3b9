//! Where calls run (runtime.rs): an async call runs whole on the I/O thread, its log
//! records included, so a log sink that calls the blocking API from there gets an error
//! at once instead of waiting for the thread it stops; a blocking call runs on its
//! caller's thread, where a sink may call anything. Alone in its test binary: the log
//! sink is process-wide.

mod common;

use std::sync::{Arc, Mutex};

use common::{current_thread, CLIENT_ID, ORG};
use cobo_oauth::{
    set_log_sink, AsyncOAuthClient, ClientConfig, CoboOAuthError, LogRecord, LogSink, OAuthClient, OrgToken,
};
use cobo_oauth_mock::{Fault, FaultTarget, MockConfig};

/// On a failed attempt's record, makes a blocking call and keeps its outcome and thread.
struct CallingBack {
    client: Arc<OAuthClient>,
    outcomes: Mutex<Vec<(String, Result<OrgToken, CoboOAuthError>)>>,
}

impl LogSink for CallingBack {
    fn log(&self, record: LogRecord) {
        if record.message.starts_with("request failed") {
            let thread = std::thread::current().name().unwrap_or_default().to_owned();
            let outcome = self.client.get_org_token(CLIENT_ID.into(), ORG.into());
            self.outcomes.lock().unwrap().push((thread, outcome));
        }
    }
}

#[test]
fn a_blocking_call_from_the_io_thread_fails_at_once_and_from_a_callers_thread_works() {
    let (server, key) = common::mock_with_app(MockConfig::default(), CLIENT_ID, &[ORG]);
    let config = ClientConfig {
        max_retries: 1,
        retry_base_delay_ms: 1,
        ..common::client_config(&server)
    };
    let client = Arc::new(OAuthClient::new(key, config).unwrap());
    let sink = Arc::new(CallingBack { client: client.clone(), outcomes: Mutex::new(Vec::new()) });
    set_log_sink(Some(sink.clone()));
    let unavailable = Fault::Unsigned { status: 503, retry_after_secs: None, retry_after_as_date: false };

    // Async: the first attempt fails, its record reaches the sink on the I/O thread.
    server.inject_for(unavailable.clone(), 1, FaultTarget::Get);
    let token = current_thread().block_on(AsyncOAuthClient::new(client.clone()).get_org_token(CLIENT_ID.into(), ORG.into()));
    assert_eq!(token.unwrap().token_type, "Bearer", "the retry succeeded");
    // "At once" is the error's kind below: the refusal, not a timeout.
    {
        let outcomes = sink.outcomes.lock().unwrap();
        let (thread, outcome) = outcomes.first().expect("the sink saw the failed attempt");
        assert_eq!(thread, "cobo-oauth-io");
        match outcome {
            Err(CoboOAuthError::Transport { reason }) => assert!(reason.contains("I/O thread"), "{reason}"),
            other => panic!("a blocking call on the I/O thread gave {other:?}"),
        }
    }

    // Blocking: the failed attempt's record reaches the sink on this thread, where the
    // sink's own blocking call works.
    sink.outcomes.lock().unwrap().clear();
    server.inject_for(unavailable, 1, FaultTarget::Get);
    assert_eq!(client.get_org_token(CLIENT_ID.into(), ORG.into()).unwrap().token_type, "Bearer");
    set_log_sink(None);
    let outcomes = sink.outcomes.lock().unwrap();
    let (thread, outcome) = outcomes.first().expect("the sink saw the failed attempt");
    assert_eq!(Some(thread.as_str()), std::thread::current().name());
    assert_eq!(outcome.as_ref().map(|token| token.token_type.as_str()), Ok("Bearer"));
}
