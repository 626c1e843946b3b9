//! `AsyncOAuthClient`'s two calls as one plain C call and one callback, for bindings whose
//! per-call FFI cost rivals the request. Awaiting a UniFFI future from Kotlin takes about
//! nine JNA calls (the handle's clone, two string buffers, the call, two polls, complete,
//! free, the answer's buffer), each allocating structures by reflection, and two callbacks.
//! Here the strings arrive in one byte array, the call runs on the I/O thread as
//! `get_org_token_then` runs it, and its outcome comes back in one callback, serialized as
//! UniFFI serializes it, so the binding reads it with its generated converters.
//!
//! Not part of the UDL: the symbol carries a version, so a library and a binding that
//! disagree fail at lookup instead of misreading each other.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::http::async_client::AsyncOAuthClient;
use crate::secret::wipe;
use crate::{CoboOAuthError, OrgToken, Secret, UniFfiTag};

/// `OAuthClient::get_org_token(first, second)`: client id, org id.
const GET_ORG_TOKEN: i32 = 0;
/// `OAuthClient::refresh_org_token(first, second)`: client id, refresh token.
const REFRESH_ORG_TOKEN: i32 = 1;

/// The input was not what the binding promised (lengths, UTF-8, a null pointer, an
/// unknown operation): the binding takes the UniFFI path, whose errors are typed.
const BAD_INPUT: i32 = -1;
const PANICKED: i32 = -3;

/// Receives a call's outcome, once, usually on the I/O thread: `tag` as given, `failed`
/// 0 with a serialized `OrgToken` or 1 with a serialized `CoboOAuthError`. `data` lives
/// for the callback only and is wiped after it (a token's bytes are secrets).
pub type Done = extern "C" fn(tag: u64, failed: i32, data: *const u8, len: i32);

/// Starts `operation` (`GET_ORG_TOKEN` or `REFRESH_ORG_TOKEN`) on the I/O thread and
/// returns 0; `done(tag, ..)` hears its outcome, maybe before this returns (an error found
/// at once). `input` holds the two arguments as UTF-8, back to back. A negative return is
/// a code, and then `done` is never called.
///
/// # Safety
/// `client` must be the handle of a live `AsyncOAuthClient` that the caller keeps alive
/// for this call (the call itself keeps what it needs), `input` must be readable for
/// `first_len + second_len` bytes, and `done` must be callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn cobo_oauth_direct_call_v1(
    client: u64,
    operation: i32,
    input: *const u8,
    first_len: i32,
    second_len: i32,
    done: Done,
    tag: u64,
) -> i32 {
    let (Ok(first_len), Ok(second_len)) = (usize::try_from(first_len), usize::try_from(second_len)) else {
        return BAD_INPUT;
    };
    let Some(total) = first_len.checked_add(second_len) else { return BAD_INPUT };
    if client == 0 || input.is_null() {
        return BAD_INPUT;
    }
    // SAFETY: the caller's promises above.
    let (client, input) = unsafe { (&*(client as *const AsyncOAuthClient), std::slice::from_raw_parts(input, total)) };
    let (first, second) = input.split_at(first_len);
    let (Ok(first), Ok(second)) = (std::str::from_utf8(first), std::str::from_utf8(second)) else {
        return BAD_INPUT;
    };
    let notify = move |outcome: Result<OrgToken, CoboOAuthError>| answer(done, tag, outcome);
    let started = catch_unwind(AssertUnwindSafe(|| match operation {
        GET_ORG_TOKEN => Some(client.get_org_token_then(first.to_owned(), second.to_owned(), notify)),
        REFRESH_ORG_TOKEN => Some(client.refresh_org_token_then(first.to_owned(), Secret::new(second), notify)),
        _ => None,
    }));
    match started {
        Ok(Some(Ok(()))) => 0,
        // No I/O thread: the typed error, as the UniFFI call would raise it.
        Ok(Some(Err(err))) => {
            answer(done, tag, Err(err));
            0
        }
        Ok(None) => BAD_INPUT,
        Err(_) => PANICKED,
    }
}

fn answer(done: Done, tag: u64, outcome: Result<OrgToken, CoboOAuthError>) {
    let mut bytes = Vec::new();
    let failed = match outcome {
        Ok(token) => {
            <OrgToken as uniffi::Lower<UniFfiTag>>::write(token, &mut bytes);
            0
        }
        Err(err) => {
            <CoboOAuthError as uniffi::Lower<UniFfiTag>>::write(err, &mut bytes);
            1
        }
    };
    // Unreachable fallback: a response body is capped at 1 MiB (client.rs), so its
    // outcome fits. Were it not, an empty answer fails to read in the binding (a typed
    // exception there), where a length past the buffer would make it read out of bounds.
    let len = i32::try_from(bytes.len()).unwrap_or(0);
    done(tag, failed, bytes.as_ptr(), len);
    wipe(&mut bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use crate::{AppKey, ClientConfig, OAuthClient};

    /// What `record` heard: (tag, failed, bytes).
    static HEARD: Mutex<Vec<(u64, i32, Vec<u8>)>> = Mutex::new(Vec::new());

    extern "C" fn record(tag: u64, failed: i32, data: *const u8, len: i32) {
        let bytes = unsafe { std::slice::from_raw_parts(data, len as usize) }.to_vec();
        HEARD.lock().unwrap().push((tag, failed, bytes));
    }

    fn heard(tag: u64, within: Duration) -> Option<(i32, Vec<u8>)> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let mut heard = HEARD.lock().unwrap();
            if let Some(at) = heard.iter().position(|(t, ..)| *t == tag) {
                let (_, failed, bytes) = heard.remove(at);
                return Some((failed, bytes));
            }
            drop(heard);
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    fn client() -> Arc<AsyncOAuthClient> {
        // Nothing listens there: no test here reaches the network.
        let config = ClientConfig::for_base_url("http://127.0.0.1:9/v2".to_owned(), AppKey::generate().unwrap().api_key());
        let client = OAuthClient::new(Arc::new(AppKey::generate().unwrap()), config).unwrap();
        Arc::new(AsyncOAuthClient::new(Arc::new(client)))
    }

    fn call(client: &Arc<AsyncOAuthClient>, operation: i32, first: &[u8], second: &[u8], tag: u64) -> i32 {
        let input = [first, second].concat();
        let handle = Arc::as_ptr(client) as u64;
        let len = |bytes: &[u8]| i32::try_from(bytes.len()).unwrap();
        unsafe { cobo_oauth_direct_call_v1(handle, operation, input.as_ptr(), len(first), len(second), record, tag) }
    }

    #[test]
    fn input_the_binding_did_not_promise_is_refused_and_never_answered() {
        let client = client();
        assert_eq!(call(&client, 7, b"client", b"org", 101), BAD_INPUT, "an unknown operation");
        assert_eq!(call(&client, GET_ORG_TOKEN, b"cli\xffent", b"org", 102), BAD_INPUT, "not UTF-8");
        let input = b"clientorg";
        let refused = [
            unsafe { cobo_oauth_direct_call_v1(0, 0, input.as_ptr(), 6, 3, record, 103) },
            unsafe { cobo_oauth_direct_call_v1(Arc::as_ptr(&client) as u64, 0, std::ptr::null(), 6, 3, record, 104) },
            unsafe { cobo_oauth_direct_call_v1(Arc::as_ptr(&client) as u64, 0, input.as_ptr(), -1, 3, record, 105) },
        ];
        assert_eq!(refused, [BAD_INPUT; 3]);
        std::thread::sleep(Duration::from_millis(50));
        assert!(HEARD.lock().unwrap().iter().all(|(tag, ..)| !(101..=105).contains(tag)), "none answered");
    }

    #[test]
    fn an_error_comes_back_once_as_uniffi_serializes_it() {
        let client = client();
        for (operation, tag) in [(GET_ORG_TOKEN, 201), (REFRESH_ORG_TOKEN, 202)] {
            assert_eq!(call(&client, operation, b" ", b"x", tag), 0);
            let (failed, bytes) = heard(tag, Duration::from_secs(10)).expect("answered");
            assert_eq!(failed, 1);
            let mut expected = Vec::new();
            let err = CoboOAuthError::InvalidArgument { reason: "client_id must not be empty".into() };
            <CoboOAuthError as uniffi::Lower<UniFfiTag>>::write(err, &mut expected);
            assert_eq!(bytes, expected);
        }
        let again = Duration::from_millis(100);
        assert!(heard(201, again).is_none() && heard(202, again).is_none(), "answered once");
    }
}
