"""CoboAuth for requests (``pip install cobo-oauth[requests]``): ``CoboRequestsAuth``
signs each prepared request over the path, query and body bytes requests sends, adds
the org's Bearer token, checks Cobo's signature on the answer, and sends the request
again when Cobo refused it before acting (its nonce or its token)::

    auth = CoboRequestsAuth(key, manager, org_id=org_id, verifier=ResponseVerifier(Environment.PROD))
    requests.get("https://api.cobo.com/v2/wallets", params={"limit": 10}, auth=auth)
"""

from __future__ import annotations

from typing import Any

import requests
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar

from cobo_oauth._request_auth import RequestAuth, Resends
from cobo_oauth.refusal import Refusal
from cobo_oauth.exceptions import InvalidArgumentError

__all__ = ["CoboRequestsAuth"]


class CoboRequestsAuth(AuthBase, RequestAuth[requests.PreparedRequest]):
    """``requests`` auth for WaaS calls. ``org_id`` is the organization to act for, or a
    callable that picks it from the prepared request. ``verifier`` checks Cobo's
    response signatures (``None`` turns the check off: not recommended); a bad one
    raises ``ResponseSignatureError`` from the call. The manager may renew the token
    first (a network call, with the GIL released).

    Cobo's refusals are recovered from in the response hook, as requests' own
    ``HTTPDigestAuth`` answers a 401: the refused response is read and closed, a copy of
    the request is signed again and sent on the same adapter, and the final response
    lists the refused ones in ``history``. After a refusal of the CoboAuth headers
    (a nonce another host drew too, or outside Cobo's window) the copy has a fresh
    nonce and signature (at most 3 times); after a refused access token it has the
    manager's next token, once (``manager.invalidate`` first: concurrent callers share
    one renewal). Every other answer, a generic 500 included, is returned as it came.

    The response body is read in full to check it, so ``stream=True`` gains nothing.
    A ``str`` body is sent as its UTF-8 bytes (http.client would send Latin-1). A
    streamed body (a file or generator) cannot be signed. Do not mount an adapter
    that retries after the request was sent (``Retry`` on read errors or statuses):
    a resent request reuses its nonce, which Cobo refuses.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = _body_bytes(request)
        org_id = self._org_for(request)
        token = self._manager.access_token(org_id)
        self._sign(request, body, token)

        def check(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
            return self._check(org_id, token, response, **kwargs)

        request.register_hook("response", check)  # type: ignore[no-untyped-call]
        return request

    def _sign(self, request: requests.PreparedRequest, body: bytes, token: str) -> None:
        request.headers.update(self._headers(request.method or "GET", request.path_url, body, token))

    def _check(self, org_id: str, token: str, response: requests.Response, **kwargs: Any) -> requests.Response:
        """Verifies ``response``; when it is a refusal to recover from, sends the request
        again (as ``HTTPDigestAuth.handle_401`` does) and returns the final response.
        ``kwargs`` are the adapter's send arguments (timeout, verify, proxies, ...)."""
        resends = Resends()
        while True:
            # Read in full (.content): the connection goes back to the pool.
            refusal = self._refusal(response.status_code, response.headers, response.content, resends)
            if refusal is None:
                return response
            if refusal is Refusal.ACCESS_TOKEN:
                token = self._renew(org_id, token)
            response.close()
            request = response.request.copy()
            # As HTTPDigestAuth.handle_401: cookies the refused answer set go with the copy.
            extract_cookies_to_jar(request._cookies, response.request, response.raw)  # type: ignore[attr-defined,no-untyped-call]
            request.prepare_cookies(request._cookies)  # type: ignore[attr-defined]
            self._sign(request, _body_bytes(request), token)
            resent: requests.Response = response.connection.send(request, **kwargs)
            resent.history = [*response.history, response]
            resent.request = request
            response = resent


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
