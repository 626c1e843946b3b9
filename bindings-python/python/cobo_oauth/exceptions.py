"""The errors cobo_oauth raises: a base class and one subclass per variant of the
UDL's ``CoboOAuthError``, with the variant's fields as attributes.

The native module raises these classes (``src/errors.rs``); ``str()`` of any of them is
the core's message, which never contains a key or a token.

UDL variant        Python class              also a
-----------------  ------------------------  ---------------
InvalidKey         InvalidKeyError           ValueError
InvalidArgument    InvalidArgumentError      ValueError
OAuth              OAuthError
Server             ServerError
Unavailable        UnavailableError
Transport          TransportError            ConnectionError
Timeout            RequestTimeoutError       TimeoutError
InvalidResponse    InvalidResponseError
ResponseSignature  ResponseSignatureError
Store              StoreError
AuthorizationRequired  AuthorizationRequiredError
Internal           InternalError
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CoboOAuthError",
    "InvalidKeyError",
    "InvalidArgumentError",
    "OAuthError",
    "ServerError",
    "UnavailableError",
    "TransportError",
    "RequestTimeoutError",
    "InvalidResponseError",
    "ResponseSignatureError",
    "StoreError",
    "AuthorizationRequiredError",
    "InternalError",
]


def _restore(cls: type[CoboOAuthError], args: tuple[Any, ...], state: dict[str, Any]) -> CoboOAuthError:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class CoboOAuthError(Exception):
    """Base class of every error cobo_oauth raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        # The subclasses take keyword-only fields, which BaseException's pickling drops.
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class _ReasonError(CoboOAuthError):
    """The variants whose one field is ``reason``: why, in words."""

    reason: str

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidKeyError(_ReasonError, ValueError):
    """The app key is malformed (length, hex, halves that do not match)."""


class InvalidArgumentError(_ReasonError, ValueError):
    """An argument or configuration value is unusable; nothing was sent."""


class OAuthError(CoboOAuthError):
    """Cobo refused the request (4XX): fix the request or re-authorize.

    ``error == "invalid_grant"`` on refresh means the refresh token is spent or expired:
    the organization has to authorize the app again.
    """

    status: int
    error: str
    error_description: str

    def __init__(self, message: str, *, status: int, error: str, error_description: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.error_description = error_description


class ServerError(CoboOAuthError):
    """Cobo failed (5XX). Quote ``error_id`` to Cobo support."""

    status: int
    error_code: int
    error_message: str
    error_id: str

    def __init__(self, message: str, *, status: int, error_code: int, error_message: str, error_id: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.error_message = error_message
        self.error_id = error_id


class UnavailableError(CoboOAuthError):
    """A proxy answered 414, 429, 502 or 503 without a Cobo signature: retry later."""

    status: int

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class TransportError(_ReasonError, ConnectionError):
    """The connection failed or broke before a full response arrived."""


class RequestTimeoutError(_ReasonError, TimeoutError):
    """The connect or total timeout elapsed (the UDL's ``Timeout`` variant)."""


class InvalidResponseError(CoboOAuthError):
    """The response was not the documented JSON (bad JSON, missing fields, wrong types)."""

    status: int
    reason: str

    def __init__(self, message: str, *, status: int, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class ResponseSignatureError(_ReasonError):
    """The response signature is missing or does not verify: do not trust the body."""


class StoreError(_ReasonError):
    """The token store failed to load, save or delete. A token not saved stays in memory
    and is saved (then handed out) on the next call.

    When a Python store raises, ``reason`` is the exception's type and message.
    """


class AuthorizationRequiredError(CoboOAuthError):
    """Cobo refuses both the refresh token and a new ``org_implicit`` grant for ``org_id``:
    the organization must install (authorize) the app again. Not transient; the store's
    token for the org has been deleted."""

    org_id: str
    status: int
    error: str
    error_description: str

    def __init__(self, message: str, *, org_id: str, status: int, error: str, error_description: str) -> None:
        super().__init__(message)
        self.org_id = org_id
        self.status = status
        self.error = error
        self.error_description = error_description


class InternalError(_ReasonError):
    """A bug in cobo_oauth (a panic it caught, e.g. inside a renewal). Not transient and
    never retried; please report it."""
