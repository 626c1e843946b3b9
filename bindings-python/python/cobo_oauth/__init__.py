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
    StoredToken,
    TokenManager,
    TokenLease,
    TokenManagerConfig,
    TokenStore,
    __version__,
    canonical_content,
    content_digest,
    file_token_store,
    memory_token_store,
    verify_webhook,
    verify_webhook_with_key,
)
from cobo_oauth.environment import Environment
from cobo_oauth.exceptions import (
    AuthorizationRequiredError,
    CoboOAuthError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidResponseError,
    OAuthError,
    RequestTimeoutError,
    ResponseSignatureError,
    ServerError,
    StoreError,
    TransportError,
    UnavailableError,
)
from cobo_oauth.protocols import TokenStoreProtocol

__all__ = [
    "AppKey",
    "AuthorizationRequiredError",
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
    "StoreError",
    "StoredToken",
    "TokenLease",
    "TokenManager",
    "TokenManagerConfig",
    "TokenStore",
    "TokenStoreProtocol",
    "TransportError",
    "UnavailableError",
    "__version__",
    "canonical_content",
    "content_digest",
    "file_token_store",
    "memory_token_store",
    "verify_webhook",
    "verify_webhook_with_key",
]
