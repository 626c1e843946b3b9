"""CoboAuth for httpx (``pip install cobo-oauth[httpx]``): ``CoboHttpxAuth`` signs each
request over the path, query and body bytes httpx sends, adds the org's Bearer token
and checks Cobo's signature on the answer, for ``httpx.Client`` and
``httpx.AsyncClient`` alike::

    auth = CoboHttpxAuth(key, manager, org_id, ResponseVerifier(Environment.PROD))
    httpx.get("https://api.cobo.com/v2/wallets", params={"limit": 10}, auth=auth)
"""

from __future__ import annotations

import time
from typing import AsyncGenerator, Callable, Dict, Generator, Optional, Tuple, Union

import anyio.to_thread
import httpx

from cobo_oauth._native import AppKey, ResponseVerifier, TokenManager
from cobo_oauth._request_auth import RequestAuth

__all__ = ["CoboHttpxAuth"]

class CoboHttpxAuth(httpx.Auth, RequestAuth[httpx.Request]):
    """``httpx.Auth`` for WaaS calls. ``org_id`` is the organization to act for, or a
    callable that picks it from the request. ``verifier`` checks Cobo's response
    signatures (``None`` turns the check off: not recommended); a bad one raises
    ``ResponseSignatureError`` from the client call.

    Sync clients call the manager directly (it releases the GIL). Async clients keep
    each org's ``TokenManager.lease`` and serve it until the instant the manager allows
    (the start of its refresh margin); only then does the manager run, in a worker
    thread, so the event loop never blocks on the network. After
    ``manager.invalidate(org, token)``, call ``forget(org)`` here too.

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
        token = self._manager.access_token(self._org_for(request))
        response = yield self._sign(request, token)
        response.read()
        self._check(response)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        token = await self._token_async(self._org_for(request))
        response = yield self._sign(request, token)
        await response.aread()
        self._check(response)

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

    def _sign(self, request: httpx.Request, token: str) -> httpx.Request:
        # raw_path is the path and query exactly as httpx writes them on the wire.
        target = request.url.raw_path.decode("ascii")
        request.headers.update(self._headers(request.method, target, request.content, token))
        return request

    def _check(self, response: httpx.Response) -> None:
        self._verify(response.status_code, response.headers, response.content)
