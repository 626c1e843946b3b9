//! Cobo's 4XX answer, `{"error", "error_description"}`, as the handlers build it.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct OAuthError {
    #[serde(skip)]
    pub status: u16,
    pub error: String,
    pub error_description: String,
    /// A WaaS `error_code` beside the OAuth fields: set on CoboAuth refusals, so that
    /// clients can tell them apart without reading the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
}

impl OAuthError {
    pub fn new(status: u16, error: &str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status,
            error: error.to_owned(),
            error_description: description.into(),
            error_code: None,
        }
    }

    /// A refused CoboAuth header: 401 `invalid_client` with `code`.
    pub fn coboauth(code: i64, description: impl Into<String>) -> OAuthError {
        OAuthError { error_code: Some(code), ..OAuthError::invalid_client(description) }
    }

    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new(400, "invalid_request", description)
    }

    pub fn invalid_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(401, "invalid_client", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new(400, "invalid_grant", description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(403, "unauthorized_client", description)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> OAuthError {
        OAuthError::new(400, "unsupported_grant_type", description)
    }
}
