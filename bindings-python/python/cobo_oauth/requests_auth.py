"""CoboAuth for requests (``pip install cobo-oauth[requests]``): ``CoboRequestsAuth``
signs each prepared request over the path, query and body bytes requests sends, adds
the org's Bearer token and checks Cobo's signature on the answer::

    auth = CoboRequestsAuth(key, manager, org_id, ResponseVerifier(Environment.PROD))
    requests.get("https://api.cobo.com/v2/wallets", params={"limit": 10}, auth=auth)
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import requests
from requests.auth import AuthBase

from cobo_oauth._native import AppKey, ResponseVerifier, TokenManager
from cobo_oauth._request_auth import RequestAuth
from cobo_oauth.exceptions import InvalidArgumentError

__all__ = ["CoboRequestsAuth"]


class CoboRequestsAuth(AuthBase, RequestAuth[requests.PreparedRequest]):
    """``requests`` auth for WaaS calls. ``org_id`` is the organization to act for, or a
    callable that picks it from the prepared request. ``verifier`` checks Cobo's
    response signatures (``None`` turns the check off: not recommended); a bad one
    raises ``ResponseSignatureError`` from the call. The manager may renew the token
    first (a network call, with the GIL released).

    The response body is read in full to check it, so ``stream=True`` gains nothing.
    A ``str`` body is sent as its UTF-8 bytes (http.client would send Latin-1). A
    streamed body (a file or generator) cannot be signed. Do not mount an adapter
    that retries after the request was sent (``Retry`` on read errors or statuses):
    a resent request reuses its nonce, which Cobo refuses.
    """

    def __init__(
        self,
        key: AppKey,
        manager: TokenManager,
        org_id: Union[str, Callable[[requests.PreparedRequest], str]],
        verifier: Optional[ResponseVerifier],
    ) -> None:
        RequestAuth.__init__(self, key, manager, org_id, verifier)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = _body_bytes(request)
        token = self._manager.access_token(self._org_for(request))
        request.headers.update(self._headers(request.method or "GET", request.path_url, body, token))
        request.register_hook("response", self._check)  # type: ignore[no-untyped-call]
        return request

    def _check(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        self._verify(response.status_code, response.headers, response.content)
        return response


def _body_bytes(request: requests.PreparedRequest) -> bytes:
    """The bytes that go on the wire; a str body is replaced by its UTF-8 encoding."""
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        encoded = body.encode("utf-8")
        request.body = encoded
        request.headers["Content-Length"] = str(len(encoded))
        return encoded
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    reason = "a streamed body (file or generator) cannot be signed: pass bytes"
    raise InvalidArgumentError(f"invalid argument: {reason}", reason=reason)
