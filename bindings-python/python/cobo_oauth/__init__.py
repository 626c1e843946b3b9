"""Cobo WaaS 2.0 OAuth for Portal Apps: sign requests with the app's Ed25519 key, get and
refresh Org Access Tokens, verify Cobo's response and webhook signatures.

Every name here mirrors ``core/src/cobo_oauth.udl``; the work is done by the Rust core.
The asyncio classes are imported on first use (``__getattr__``): a program that never
uses them does not pay for importing asyncio.
"""

from typing import TYPE_CHECKING, Any

from cobo_oauth._native import (
    AppKey,
    ClientConfig,
    OAuthClient,
    OrgToken,
    ResponseVerifier,
    SignedRequest,
    StoreKey,
    StoredToken,
    TokenManager,
    TokenLease,
    TokenManagerConfig,
    TokenStore,
    VersionedToken,
    __version__,
    Refusal,
    callback_answer,
    canonical_content,
    classify_refusal,
    content_digest,
    coordinated_token_store,
    file_token_store,
    memory_token_store,
    redis_token_store,
    verify_delivery,
    verify_webhook,
    verify_webhook_with_key,
)
from cobo_oauth.environment import Environment
from cobo_oauth.exceptions import (
    AuthorizationRequiredError,
    CoboOAuthError,
    InternalError,
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
from cobo_oauth.protocols import CoordinatedTokenStoreProtocol, TokenStoreProtocol

if TYPE_CHECKING:
    from cobo_oauth.aio import AsyncOAuthClient, AsyncTokenManager

__all__ = [
    "AsyncOAuthClient",
    "AsyncTokenManager",
    "AppKey",
    "AuthorizationRequiredError",
    "ClientConfig",
    "CoboOAuthError",
    "CoordinatedTokenStoreProtocol",
    "Environment",
    "InternalError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "InvalidResponseError",
    "OAuthClient",
    "OAuthError",
    "OrgToken",
    "Refusal",
    "RequestTimeoutError",
    "ResponseSignatureError",
    "ResponseVerifier",
    "ServerError",
    "SignedRequest",
    "StoreError",
    "StoreKey",
    "StoredToken",
    "TokenLease",
    "TokenManager",
    "TokenManagerConfig",
    "TokenStore",
    "TokenStoreProtocol",
    "VersionedToken",
    "TransportError",
    "UnavailableError",
    "__version__",
    "callback_answer",
    "canonical_content",
    "classify_refusal",
    "content_digest",
    "coordinated_token_store",
    "file_token_store",
    "memory_token_store",
    "redis_token_store",
    "verify_delivery",
    "verify_webhook",
    "verify_webhook_with_key",
]


def __getattr__(name: str) -> Any:
    """``AsyncOAuthClient`` and ``AsyncTokenManager``, from ``cobo_oauth.aio`` on first use."""
    if name in ("AsyncOAuthClient", "AsyncTokenManager"):
        from cobo_oauth import aio

        return getattr(aio, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
