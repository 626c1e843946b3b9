"""CoboAuth for httpx (``pip install cobo-oauth[httpx]``): ``CoboHttpxAuth`` signs each
request over the path, query and body bytes httpx sends, adds the org's Bearer token,
checks Cobo's signature on the answer and sends the request again when Cobo refused it
before acting (its nonce or its token), for ``httpx.Client`` and ``httpx.AsyncClient``
alike::

    auth = CoboHttpxAuth(key, manager, org_id=org_id, verifier=ResponseVerifier(Environment.PROD))
    httpx.get("https://api.cobo.com/v2/wallets", params={"limit": 10}, auth=auth)
"""

from __future__ import annotations

import time
from typing import AsyncGenerator, Callable, Dict, Generator, Optional, Tuple, Union

import anyio.to_thread
import httpx

from cobo_oauth._native import AppKey, ResponseVerifier, TokenManager
from cobo_oauth._request_auth import RequestAuth, Resends
from cobo_oauth.refusal import Refusal

__all__ = ["CoboHttpxAuth"]


class CoboHttpxAuth(httpx.Auth, RequestAuth[httpx.Request]):
    """``httpx.Auth`` for WaaS calls. ``org_id`` is the organization to act for, or a
    callable that picks it from the request. ``verifier`` checks Cobo's response
    signatures (``None`` turns the check off: not recommended); a bad one raises
    ``ResponseSignatureError`` from the client call.

    Sync clients call the manager directly (it releases the GIL). Async clients keep
    each org's ``TokenManager.lease`` and serve it until the instant the manager allows
    (the start of its refresh margin); only then does the manager run, in a worker
    thread, so the event loop never blocks on the network. After calling
    ``manager.invalidate(org, token)`` yourself, call ``forget(org)`` here too.

    Cobo's refusals are recovered from inside the auth flow, which yields the request
    again (the refused responses are in the final one's ``history``): after a refusal
    of its CoboAuth headers (a nonce another host drew too, or outside Cobo's window)
    with a fresh nonce and signature, at most 3 times; after a refused access token
    with the manager's next token, once (the refused token is invalidated in the
    manager, and dropped from the async cache, first: concurrent callers share one
    renewal; async clients renew in a worker thread). Every other answer, a generic 500
    included, is returned as it came.

    The whole request body is read before signing and the whole response before
    checking. httpx's own
    retries (``transport=HTTPTransport(retries=…)``) only resend unsent connections, so
    a nonce is never sent twice.
    """

    def __init__(
        self,
        key: AppKey,
        manager: TokenManager,
        org_id: Union[str, Callable[[httpx.Request], str]],
        verifier: Optional[ResponseVerifier],
    ) -> None:
        RequestAuth.__init__(self, key, manager, org_id, verifier)
        self._tokens: Dict[str, Tuple[str, float]] = {}

    # Both flows replace httpx's defaults, so they read the bodies themselves.
    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        org_id = self._org_for(request)
        token = self._manager.access_token(org_id)
        resends = Resends()
        while True:
            response = yield self._sign(request, token)
            response.read()
            refusal = self._refusal(response.status_code, response.headers, response.content, resends)
            if refusal is None:
                return
            if refusal is Refusal.ACCESS_TOKEN:
                token = self._renew(org_id, token)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        org_id = self._org_for(request)
        token = await self._token_async(org_id)
        resends = Resends()
        while True:
            response = yield self._sign(request, token)
            await response.aread()
            refusal = self._refusal(response.status_code, response.headers, response.content, resends)
            if refusal is None:
                return
            if refusal is Refusal.ACCESS_TOKEN:
                token = await self._renewed_async(org_id, token)

    def forget(self, org_id: str) -> None:
        """Drops the async cache's token for the org (after ``manager.invalidate``)."""
        self._tokens.pop(org_id, None)

    async def _token_async(self, org_id: str) -> str:
        cached = self._tokens.get(org_id)
        if cached is not None and time.time() < cached[1]:
            return cached[0]
        lease = await anyio.to_thread.run_sync(self._manager.lease, org_id)
        self._tokens[org_id] = (lease.access_token, lease.serve_until.timestamp())
        return lease.access_token

    async def _renewed_async(self, org_id: str, refused_token: str) -> str:
        """The token to resend with after ``refused_token`` was refused: dropped from the
        cache (unless another task already replaced it), invalidated and renewed by the
        manager in a worker thread, once for every caller."""
        cached = self._tokens.get(org_id)
        if cached is not None and cached[0] == refused_token:
            del self._tokens[org_id]

        def renew() -> Tuple[str, float]:
            self._manager.invalidate(org_id, refused_token)
            lease = self._manager.lease(org_id)
            return lease.access_token, lease.serve_until.timestamp()

        token, serve_until = await anyio.to_thread.run_sync(renew)
        self._tokens[org_id] = (token, serve_until)
        return token

    def _sign(self, request: httpx.Request, token: str) -> httpx.Request:
        # raw_path is the path and query exactly as httpx writes them on the wire.
        target = request.url.raw_path.decode("ascii")
        request.headers.update(self._headers(request.method, target, request.content, token))
        return request
