//! Two errors: the internal `Error` every module returns (with `#[from]` for each
//! source), and the public `CoboOAuthError` that callers act on. `From<Error>` below
//! is the one table between them. No message carries a key or a token.


/// What a caller can act on. Variant fields are the same in every language.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoboOAuthError {
    #[error("invalid key: {reason}")]
    InvalidKey { reason: String },
    #[error("invalid argument: {reason}")]
    InvalidArgument { reason: String },
    #[error("OAuth error {status} {error}: {error_description}")]
    OAuth { status: u16, error: String, error_description: String },
    #[error("server error {status} (code {error_code}, error id {error_id}): {error_message}")]
    Server { status: u16, error_code: i64, error_message: String, error_id: String },
    #[error("service unavailable: HTTP {status} from a proxy, without a Cobo signature")]
    Unavailable { status: u16 },
    #[error("transport error: {reason}")]
    Transport { reason: String },
    #[error("timed out: {reason}")]
    Timeout { reason: String },
    #[error("invalid response (HTTP {status}): {reason}")]
    InvalidResponse { status: u16, reason: String },
    #[error("response signature: {reason}")]
    ResponseSignature { reason: String },
    #[error("token store: {reason}")]
    Store { reason: String },
    #[error("organization {org_id} must authorize the app again (HTTP {status} {error}: {error_description})")]
    AuthorizationRequired { org_id: String, status: u16, error: String, error_description: String },
    /// A bug in cobo-oauth (a panic it caught): never retried as transient. Please report it.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

/// A foreign TokenStore raised something that is not a CoboOAuthError. Its first line
/// names it (a JVM stack trace follows on the next lines).
impl From<uniffi::UnexpectedUniFFICallbackError> for CoboOAuthError {
    fn from(err: uniffi::UnexpectedUniFFICallbackError) -> Self {
        let reason = err.reason.lines().next().unwrap_or_default().to_owned();
        CoboOAuthError::Store { reason }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("{0}")]
    Key(String),
    #[error("{0}")]
    Argument(String),
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// No I/O thread, or a call it could not run.
    #[error("{0}")]
    Runtime(String),
    #[error("OAuth error")]
    OAuth { status: u16, error: String, error_description: String, retry_after: Option<std::time::Duration> },
    /// A 401 refusing the CoboAuth headers (refusal.rs): resent freshly signed.
    #[error("CoboAuth refused")]
    CoboAuthRefused { status: u16, error: String, error_description: String },
    #[error("server error")]
    Server { status: u16, error_code: i64, error_message: String, error_id: String },
    #[error("unsigned proxy response")]
    Unavailable { status: u16, retry_after: Option<std::time::Duration> },
    #[error("{reason}")]
    InvalidResponse { status: u16, reason: String },
    #[error("{0}")]
    Signature(String),
    #[error("the call's total deadline (total_timeout_ms) passed")]
    Deadline,
    /// Already classified (kept as is through the retry loop).
    #[error("{0}")]
    Public(CoboOAuthError),
}

impl From<Error> for CoboOAuthError {
    fn from(err: Error) -> Self {
        match err {
            Error::Key(reason) => Self::InvalidKey { reason },
            Error::Argument(reason) | Error::Config(reason) => Self::InvalidArgument { reason },
            Error::Http(e) if e.is_timeout() => Self::Timeout { reason: chain(&e) },
            Error::Http(e) if e.is_builder() => Self::InvalidArgument { reason: chain(&e) },
            Error::Http(e) => Self::Transport { reason: chain(&e) },
            Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => Self::Timeout { reason: chain(&e) },
            Error::Io(e) => Self::Transport { reason: chain(&e) },
            Error::Runtime(reason) => Self::Transport { reason },
            Error::OAuth { status, error, error_description, .. } | Error::CoboAuthRefused { status, error, error_description } => {
                Self::OAuth { status, error, error_description }
            }
            Error::Server { status, error_code, error_message, error_id } => {
                Self::Server { status, error_code, error_message, error_id }
            }
            Error::Unavailable { status, .. } => Self::Unavailable { status },
            Error::InvalidResponse { status, reason } => Self::InvalidResponse { status, reason },
            Error::Signature(reason) => Self::ResponseSignature { reason },
            err @ Error::Deadline => Self::Timeout { reason: err.to_string() },
            Error::Public(err) => err,
        }
    }
}

/// An error and its sources on one line ("error sending request: connection refused"),
/// without the userinfo of any URL in it (a proxy's credentials).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    redact_userinfo(&text)
}

/// `text` with the userinfo (`user:password@`) of every URL in it replaced by `…@`:
/// a proxy's credentials must never reach an error message.
pub(crate) fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || "/?#)\"'>".contains(c))
            .unwrap_or(tail.len());
        let (authority, after) = tail.split_at(end);
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("…@");
                out.push_str(&authority[at + 1..]);
            }
            None => out.push_str(authority),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted_wherever_a_url_appears() {
        assert_eq!(
            redact_userinfo("error for url (http://user:s3cret@proxy:3128/x): refused"),
            "error for url (http://…@proxy:3128/x): refused"
        );
        assert_eq!(redact_userinfo("https://h/a?b=c@d and x://u@h"), "https://h/a?b=c@d and x://…@h");
        assert_eq!(redact_userinfo("no url here"), "no url here");
    }
}
