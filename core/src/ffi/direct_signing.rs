//! `AppKey::sign_request` as one plain C call, for the Kotlin binding, whose per-call FFI
//! cost dwarfs the signature: through JNA every UniFFI call allocates call-status and
//! buffer structures by reflection, and a `sign_request` made six such calls (the handle
//! clone, four strings, the record), ~10× the signature. Here the strings arrive in one
//! byte array and every answer is written into one caller-owned array, so JNA's direct
//! mapping copies two arrays and allocates nothing.
//!
//! Everything else (the nonce clock, the canonical content, the digest, the key) is the
//! same code `sign_request` runs. Not part of the UDL: the symbols carry a version, so a
//! library and a binding that disagree fail at lookup instead of misreading each other.
//! The key arrives as a UniFFI handle (the Kotlin object's own, borrowed) and is read
//! with UniFFI's own lift, so it follows UniFFI's handle layout.

use std::io::Write;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use uniffi::{Handle, Lift};

use crate::auth::keys::AppKey;
use crate::auth::signing::double_sha256;
use crate::UniFfiTag;

/// Bytes before the nonce in `out`: api key, signature and digest in hex, the nonce's length.
const HEAD_LEN: usize = 64 + 128 + 64 + 1;
/// A longer caller-chosen nonce takes the UniFFI path (its length must fit a byte).
const NONCE_MAX_LEN: usize = 255;

/// The input was not what the binding promised (lengths, UTF-8, a null key).
const BAD_INPUT: i32 = -1;
/// `out` is too small for this request.
const OUT_TOO_SMALL: i32 = -2;
const PANICKED: i32 = -3;

/// Signs like `AppKey::sign_request` (or `..._with_nonce` when `nonce_len >= 0`).
///
/// `input` holds method, path, query, body and nonce as UTF-8, back to back, with the
/// given lengths. `out` receives `api_key(64) signature(128) digest(64) nonce_len(1)
/// nonce content`, all ASCII except the content (UTF-8). Returns the content's length, or
/// a negative code; then the binding takes the UniFFI path, whose errors are typed.
///
/// # Safety
/// `key` must be a UniFFI handle of an `AppKey` (the binding object's own, or one from
/// `uniffiCloneHandle()`) that stays valid for the call, `input` must be readable for the
/// sum of the lengths, and `out` writable for `out_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cobo_oauth_direct_sign_v1(
    key: u64,
    input: *const u8,
    method_len: i32,
    path_len: i32,
    query_len: i32,
    body_len: i32,
    nonce_len: i32,
    out: *mut u8,
    out_len: i32,
) -> i32 {
    let lengths = [method_len, path_len, query_len, body_len, nonce_len.max(0)];
    let (Some(total), Ok(out_len)) = (
        lengths.iter().try_fold(0usize, |sum, &len| usize::try_from(len).ok().and_then(|len| sum.checked_add(len))),
        usize::try_from(out_len),
    ) else {
        return BAD_INPUT;
    };
    if input.is_null() || out.is_null() {
        return BAD_INPUT;
    }
    // SAFETY: the caller's promises above. The handle stays the caller's: borrowed, not dropped.
    let Some(key) = (unsafe { borrow(key) }) else { return BAD_INPUT };
    let (input, out) = unsafe { (std::slice::from_raw_parts(input, total), std::slice::from_raw_parts_mut(out, out_len)) };
    let clock_nonce = (nonce_len < 0).then(|| key.next_nonce());
    catch_unwind(AssertUnwindSafe(|| sign_into(&key, input, &lengths, clock_nonce, out))).unwrap_or(PANICKED)
}

/// Drops a handle `key` from `uniffiCloneHandle()` (DirectSigningTest clones two to check
/// UniFFI's handle layout).
///
/// # Safety
/// `key` must be a UniFFI handle of an `AppKey` that the caller owns and never uses again.
#[no_mangle]
pub unsafe extern "C" fn cobo_oauth_direct_release_v1(key: u64) {
    // SAFETY: the caller's promise; 0 is no handle.
    if let Some(handle) = unsafe { Handle::from_raw(key) } {
        let _ = catch_unwind(|| drop(<Arc<AppKey> as Lift<UniFfiTag>>::try_lift(handle)));
    }
}

/// The `AppKey` behind the binding's handle, as UniFFI lifts it, without taking the
/// binding's reference (never dropped here).
///
/// # Safety
/// As `cobo_oauth_direct_sign_v1`'s `key`.
unsafe fn borrow(key: u64) -> Option<ManuallyDrop<Arc<AppKey>>> {
    let handle = unsafe { Handle::from_raw(key) }?;
    <Arc<AppKey> as Lift<UniFfiTag>>::try_lift(handle).ok().map(ManuallyDrop::new)
}

fn sign_into(key: &AppKey, input: &[u8], lengths: &[i32; 5], clock_nonce: Option<u64>, out: &mut [u8]) -> i32 {
    let mut parts = [&[][..]; 5];
    let mut rest = input;
    for (part, &len) in parts.iter_mut().zip(lengths) {
        // Lengths were checked non-negative and to sum to input.len().
        let (head, tail) = rest.split_at(len as usize);
        (*part, rest) = (head, tail);
    }
    if parts.iter().any(|part| std::str::from_utf8(part).is_err()) {
        return BAD_INPUT;
    }
    let [method, path, query, body, given_nonce] = parts;
    let mut clock_digits = [0u8; 20];
    let nonce = match clock_nonce {
        Some(nonce) => {
            let mut cursor = &mut clock_digits[..];
            let _ = write!(cursor, "{nonce}"); // 20 digits hold any u64
            let written = 20 - cursor.len();
            &clock_digits[..written]
        }
        None => given_nonce,
    };
    if nonce.len() > NONCE_MAX_LEN {
        return BAD_INPUT;
    }
    let content_len = method.len() + path.len() + nonce.len() + query.len() + body.len() + 4;
    let Ok(returned) = i32::try_from(content_len) else { return BAD_INPUT };
    let Some((head, tail)) = out.split_at_mut_checked(HEAD_LEN) else { return OUT_TOO_SMALL };
    let Some(nonce_out) = tail.get_mut(..nonce.len()) else { return OUT_TOO_SMALL };
    nonce_out.copy_from_slice(nonce);
    let Some(content) = tail.get_mut(nonce.len()..nonce.len() + content_len) else { return OUT_TOO_SMALL };

    // METHOD|PATH|nonce|QUERY|BODY, as signing::sign joins it.
    let mut at = 0;
    for (i, part) in [method, path, nonce, query, body].into_iter().enumerate() {
        if i > 0 {
            content[at] = b'|';
            at += 1;
        }
        content[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    content[..method.len()].make_ascii_uppercase();

    let digest = double_sha256(content);
    let signature = key.sign_digest(&digest);
    head[..64].copy_from_slice(key.api_key_hex().as_bytes());
    let _ = hex::encode_to_slice(signature, &mut head[64..192]); // lengths fixed above
    let _ = hex::encode_to_slice(digest, &mut head[192..256]);
    head[256] = nonce.len() as u8; // at most NONCE_MAX_LEN
    returned
}

#[cfg(test)]
mod tests {
    use super::*;

    use uniffi::Lower;

    /// A handle of `key` as UniFFI hands one to the binding; release it with `cobo_oauth_direct_release_v1`.
    fn handle(key: &Arc<AppKey>) -> u64 {
        <Arc<AppKey> as Lower<UniFfiTag>>::lower(Arc::clone(key)).as_raw()
    }

    /// Calls the entry point as the Kotlin binding does: the content length, or a code.
    fn call(key: &Arc<AppKey>, parts: [&str; 4], nonce: Option<&str>, out: &mut [u8]) -> i32 {
        let input = [parts[0], parts[1], parts[2], parts[3], nonce.unwrap_or("")].concat();
        let len = |s: &str| i32::try_from(s.len()).unwrap();
        let nonce_len = nonce.map_or(-1, len);
        let handle = handle(key);
        let code = unsafe {
            cobo_oauth_direct_sign_v1(
                handle, input.as_ptr(), len(parts[0]), len(parts[1]), len(parts[2]), len(parts[3]), nonce_len,
                out.as_mut_ptr(), i32::try_from(out.len()).unwrap(),
            )
        };
        unsafe { cobo_oauth_direct_release_v1(handle) };
        code
    }

    #[test]
    fn signing_borrows_the_handle_and_release_drops_it() {
        let key = Arc::new(AppKey::generate().unwrap());
        let mut out = [0u8; 512];
        let handle = handle(&key);
        assert_eq!(Arc::strong_count(&key), 2);
        for _ in 0..3 {
            let input = b"GET/";
            assert!(unsafe { cobo_oauth_direct_sign_v1(handle, input.as_ptr(), 3, 1, 0, 0, -1, out.as_mut_ptr(), 512) } > 0);
        }
        assert_eq!(Arc::strong_count(&key), 2, "signing leaves the binding's reference alone");
        unsafe { cobo_oauth_direct_release_v1(handle) };
        assert_eq!(Arc::strong_count(&key), 1);
        unsafe { cobo_oauth_direct_release_v1(0) };
    }

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn signs_what_sign_request_signs() {
        let key = Arc::new(AppKey::generate().unwrap());
        let mut out = [0u8; 1024];
        for (parts, nonce) in [
            (["get", "/v2/oauth/token", "a=1&b=é", ""], "1718000000000"),
            (["POST", "/v2/x", "", "{\"k\":\"中文\"}"], "n"),
        ] {
            let content_len = call(&key, parts, Some(nonce), &mut out) as usize;
            let nonce_len = usize::from(out[HEAD_LEN - 1]);
            let expected = key.sign_request_with_nonce(
                parts[0].into(), parts[1].into(), parts[2].into(), parts[3].into(), nonce.into(),
            );
            assert_eq!(text(&out[..64]), expected.api_key);
            assert_eq!(text(&out[64..192]), expected.signature);
            assert_eq!(text(&out[192..256]), expected.digest);
            assert_eq!(text(&out[HEAD_LEN..HEAD_LEN + nonce_len]), nonce);
            let content = &out[HEAD_LEN + nonce_len..HEAD_LEN + nonce_len + content_len];
            assert_eq!(text(content), expected.content.expose());
        }
    }

    #[test]
    fn clock_nonces_come_from_the_keys_clock() {
        let key = Arc::new(AppKey::generate().unwrap());
        let mut out = [0u8; 512];
        let before = key.next_nonce();
        call(&key, ["GET", "/", "", ""], None, &mut out);
        let nonce: u64 = text(&out[HEAD_LEN..HEAD_LEN + usize::from(out[HEAD_LEN - 1])]).parse().unwrap();
        assert!(nonce > before && nonce < key.next_nonce());
    }

    #[test]
    fn bad_calls_get_a_code_not_a_crash() {
        let key = Arc::new(AppKey::generate().unwrap());
        let mut out = [0u8; 512];
        assert_eq!(call(&key, ["GET", "/", "", ""], None, &mut out[..280]), OUT_TOO_SMALL);
        assert_eq!(call(&key, ["GET", "/", "", ""], Some(&"9".repeat(256)), &mut out), BAD_INPUT);
        let invalid = [0xffu8, 0xfe];
        let handle = handle(&key);
        let code = unsafe { cobo_oauth_direct_sign_v1(handle, invalid.as_ptr(), 2, 0, 0, 0, -1, out.as_mut_ptr(), 512) };
        assert_eq!(code, BAD_INPUT, "not UTF-8");
        let code = unsafe { cobo_oauth_direct_sign_v1(handle, invalid.as_ptr(), -2, 0, 0, 0, -1, out.as_mut_ptr(), 512) };
        assert_eq!(code, BAD_INPUT, "a negative length");
        unsafe { cobo_oauth_direct_release_v1(handle) };
        let code = unsafe { cobo_oauth_direct_sign_v1(0, invalid.as_ptr(), 0, 0, 0, 0, -1, out.as_mut_ptr(), 512) };
        assert_eq!(code, BAD_INPUT, "no key");
    }
}
