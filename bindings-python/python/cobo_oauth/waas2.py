"""Org Access Tokens for Cobo's official SDK (``pip install cobo-oauth[waas2]``).

cobo_waas2 signs every call with the app key (its ``Configuration`` holds the key) but
never sends the Org Access Token: its ``Configuration.access_token`` is unused. Every
generated API class (``WalletsApi``, ``TransactionsApi``, …) sends through one method,
``ApiClient.call_api``; ``org_api_client`` returns an ``ApiClient`` whose ``call_api``
adds ``Authorization: Bearer <token>`` from a ``TokenManager`` first, so each call
carries a token the manager keeps valid (renewed by the clock, before Cobo would
answer 500). Signing and response checks stay the SDK's own. A call Cobo refused before
acting on it is made again through the SDK (``classify_refusal`` on the answer, once
the SDK's own key for Cobo's signature verifies it): after a refusal of its CoboAuth
headers (a nonce another process drew too) up to 3 times, signed by the SDK with a new
nonce; after a refused access token once, with the
manager's next token (``manager.invalidate`` first: concurrent callers share one
renewal). Any other answer, a generic 500 included, reaches the SDK as it came::

    api_client = org_api_client(Configuration(api_private_key=..., host=...), manager, org_id)
    wallets = WalletsApi(api_client).list_wallets(limit=10)

The SDK's nonce is the wall-clock millisecond, read when it signs. So that threads
sharing the key never draw the same one, the SDK calls of this process made through
``org_api_client`` sign one at a time, each in a later millisecond than the last (at
most 1,000 calls a second, as many nonces as a key has; the send itself is not
serialized). The manager's token requests are signed with the same app key: after a new
token, the next SDK call waits for the next millisecond too. Another process or host
can still draw the SDK's nonce: that clash is resent. The SDK's nonces follow this
host's clock, not Cobo's: a host whose clock is off by more than Cobo's nonce window
gets its calls refused (401) after the resends. cobo_waas2 is imported only when
``org_api_client`` is called.
"""

from __future__ import annotations

import io
import os
import threading
import time
from typing import Any, Optional

from cobo_oauth._native import TokenManager
from cobo_oauth._request_auth import Resends
from cobo_oauth.exceptions import InvalidArgumentError
from cobo_oauth.refusal import Refusal

__all__ = ["org_api_client"]


def org_api_client(configuration: Any, manager: TokenManager, org_id: str) -> Any:
    """A ``cobo_waas2.ApiClient`` for ``configuration`` whose every call acts for
    ``org_id`` with the manager's current token (the manager may renew it first: a
    network call). One client per organization; share it between threads as you would
    the SDK's own. Raises ``ImportError`` without cobo_waas2."""
    if not org_id.strip():
        raise InvalidArgumentError("invalid argument: org_id must not be empty", reason="org_id must not be empty")
    from cobo_waas2 import ApiClient  # type: ignore  # the optional extra

    # The SDK's ApiClient with _OrgToken's call_api in front of its own.
    api_client = type("OrgApiClient", (_OrgToken, ApiClient), {})(configuration)
    api_client._cobo_manager = manager
    api_client._cobo_org_id = org_id
    api_client.rest_client = _Signed(api_client.rest_client)
    return api_client


class _SigningGate:
    """One SDK signature at a time in this process, each in a later wall-clock
    millisecond than the last nonce signed: ``enter`` before the SDK's ``call_api``, which
    signs (reading the clock) and then hands the request to its REST client, where
    ``signed`` lets the next one in."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Also in a forked child, which inherits no thread that could release the lock.
        self._lock = threading.Lock()
        self._last_ms = 0
        self._held = threading.local()

    def enter(self) -> None:
        self._lock.acquire()
        self._held.nonce = True
        while time.time_ns() // 1_000_000 <= self._last_ms:
            time.sleep(0.0001)

    def signed(self, nonce: Any) -> None:
        """The SDK signed with ``nonce``; a no-op outside ``enter``."""
        if not getattr(self._held, "nonce", False):
            return
        try:
            self._last_ms = max(self._last_ms, int(nonce))
        except (TypeError, ValueError):  # not the SDK's millisecond: keep clear of now
            self._last_ms = max(self._last_ms, time.time_ns() // 1_000_000)
        self._held.nonce = False
        self._lock.release()

    def leave(self) -> None:
        """After the SDK's ``call_api``: lets the next one in if the SDK never sent."""
        self.signed(None)


_GATE = _SigningGate()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_GATE._reset)


class _Signed:
    """The SDK's REST client, told to ``_GATE`` when the SDK hands it a signed request."""

    def __init__(self, rest_client: Any) -> None:
        self._rest_client = rest_client

    def request(self, *args: Any, **kwargs: Any) -> Any:
        headers = kwargs.get("headers", args[2] if len(args) > 2 else None)
        _GATE.signed((headers or {}).get("Biz-Api-Nonce"))
        return self._rest_client.request(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rest_client, name)


_BEARER = "Bearer "


class _OrgToken:
    """Mixed in before cobo_waas2's ApiClient, whose ``call_api`` every generated API
    method goes through: adds the organization's Bearer token, lets the SDK sign and
    send as usual, and makes the call again when Cobo refused it before acting."""

    _cobo_manager: TokenManager
    _cobo_org_id: str
    _cobo_last_header: str = ""

    def call_api(self, method: Any, url: Any, header_params: Any = None, *args: Any, **kwargs: Any) -> Any:
        manager, org_id = self._cobo_manager, self._cobo_org_id
        header = manager.authorization_header(org_id)
        resends = Resends()
        while True:
            if header != self._cobo_last_header:
                # A new token: the manager may have just asked Cobo for it, signed with
                # this app's key and a millisecond nonce. The SDK's nonce is the
                # wall-clock millisecond, and Cobo refuses a key's nonce twice: start in
                # a later one.
                _wait_for_the_next_millisecond()
                self._cobo_last_header = header
            # A fresh dict each time: the SDK adds its Biz-Api-* headers to it. The token
            # is not part of CoboAuth's signed content, so the SDK's signature is unaffected.
            headers = dict(header_params or {})
            headers["Authorization"] = header
            # The SDK signs with the wall-clock millisecond: one signature at a time,
            # each in a later millisecond (a resend too, so never the nonce refused).
            _GATE.enter()
            try:
                response = super().call_api(method, url, headers, *args, **kwargs)  # type: ignore[misc]
            finally:
                _GATE.leave()
            refusal = self._cobo_refusal(response, resends)
            if refusal is None:
                return response
            if refusal is Refusal.ACCESS_TOKEN:
                manager.invalidate(org_id, header[len(_BEARER):])
                header = manager.authorization_header(org_id)

    def _cobo_refusal(self, response: Any, resends: Resends) -> Optional[Refusal]:
        """The refusal to make the call again for, or None when the SDK's ``RESTResponse``
        is final. Only a 401 or 500 is read here (the SDK reads every answer anyway), and
        only one that Cobo signed, checked with the SDK's own key for it."""
        status = getattr(response, "status", None)
        if status not in (401, 500):
            return None
        body = response.read()
        _replayable(response)
        if not isinstance(body, bytes) or not self._cobo_signed(response, body):
            return None
        return resends.take(status, body)

    def _cobo_signed(self, response: Any, body: bytes) -> bool:
        from cobo_waas2.crypto.signing_helper import SignHelper  # type: ignore  # the optional extra

        headers = response.getheaders()
        signature, timestamp = headers.get("biz-resp-signature"), headers.get("biz-timestamp")
        if not signature or not timestamp:
            return False
        try:
            content = f"{body.decode()}|{timestamp}"
            public_key = self.configuration.resp_pubkey  # type: ignore[attr-defined]
            return bool(SignHelper.verify(pub_key=public_key, signature=signature, content=content))
        except (ValueError, AssertionError):  # a body not UTF-8, a signature not hex, no key: not verified
            return False

    def __repr__(self) -> str:
        return f"OrgApiClient(org_id={self._cobo_org_id!r})"


def _replayable(response: Any) -> None:
    """After the SDK's ``RESTResponse`` was read (its bytes kept in ``data``), gives it
    an urllib3 response that can still be read from the start: the generated
    ``*_without_preload_content`` methods return that object unread."""
    raw = getattr(response, "response", None)
    data = getattr(response, "data", None)
    if raw is None or not isinstance(data, bytes):
        return
    try:
        import urllib3
        from urllib3._collections import HTTPHeaderDict

        headers = HTTPHeaderDict(raw.headers)
        headers.discard("content-encoding")  # the bytes kept are decoded already
        response.response = urllib3.HTTPResponse(
            body=io.BytesIO(data),
            headers=headers,
            status=raw.status,
            reason=raw.reason,
            preload_content=False,
            decode_content=False,
            request_method=getattr(raw, "_request_method", None),
            request_url=getattr(raw, "_request_url", None),
        )
    except (ImportError, TypeError, AttributeError):  # another urllib3: its .data still holds the bytes
        return


def _wait_for_the_next_millisecond() -> None:
    now = time.time_ns() // 1_000_000
    while time.time_ns() // 1_000_000 <= now:
        time.sleep(0.0002)
