"""Cobo WaaS 2.0 OAuth for Portal Apps: sign requests with the app's Ed25519 key, get and
refresh Org Access Tokens, verify Cobo's response and webhook signatures.

Every name here mirrors ``core/src/cobo_oauth.udl``; the work is done by the Rust core.
"""

from cobo_oauth._native import (
    AppKey,
    ClientConfig,
    OAuthClient,
    OrgToken,
    ResponseVerifier,
    SignedRequest,
    __version__,
    canonical_content,
    content_digest,
    verify_webhook,
    verify_webhook_with_key,
)
from cobo_oauth.environment import Environment
from cobo_oauth.exceptions import (
    CoboOAuthError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidResponseError,
    OAuthError,
    RequestTimeoutError,
    ResponseSignatureError,
    ServerError,
    TransportError,
    UnavailableError,
)

__all__ = [
    "AppKey",
    "ClientConfig",
    "CoboOAuthError",
    "Environment",
    "InvalidArgumentError",
    "InvalidKeyError",
    "InvalidResponseError",
    "OAuthClient",
    "OAuthError",
    "OrgToken",
    "RequestTimeoutError",
    "ResponseSignatureError",
    "ResponseVerifier",
    "ServerError",
    "SignedRequest",
    "TransportError",
    "UnavailableError",
    "__version__",
    "canonical_content",
    "content_digest",
    "verify_webhook",
    "verify_webhook_with_key",
]
