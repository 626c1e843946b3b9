"""``AsyncTokenManager`` and ``AsyncOAuthClient``: the token manager and the client for
asyncio code (FastAPI, aiohttp, Starlette; uvloop works too). ``import cobo_oauth`` loads
this module (and asyncio) only when one of them is first used.

A fresh cached token is returned without leaving the event loop's thread. A caller that
must wait for a renewal awaits the renewal in flight: it runs on one thread of the
core's, shared with every waiter (async or blocking) of that ``TokenManager``, so a
thousand waiting coroutines cost no thread each and the loop never blocks. A renewal
whose waiters were all cancelled still runs to the end and saves the rotated token.

Both classes' calls end the same way: the core's thread queues the outcome and wakes
the loop through a socket the loop watches, never taking the GIL; the loop converts the
outcome and resumes the awaiting task on its own thread (``src/completions.rs``).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Optional

from cobo_oauth._native import OAuthClient, OrgToken, StoredToken, TokenManager, _Completions

__all__ = ["AsyncOAuthClient", "AsyncTokenManager"]


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Completions] = weakref.WeakKeyDictionary()


def _completions() -> _Completions:
    """Where the core's threads leave the running loop's outcomes (of both classes), made
    on the loop's first call: the loop watches their socket, or, where it cannot watch
    one (Windows), is woken by a call from the ending thread."""
    loop = asyncio.get_running_loop()
    known = _loops.get(loop)
    if known is not None:
        return known
    try:
        completions = _Completions(loop)
        loop.add_reader(completions.fileno(), completions.drain)
    except (ValueError, NotImplementedError):

        def wake() -> None:
            try:
                loop.call_soon_threadsafe(completions.drain)
            except RuntimeError:  # the loop was closed meanwhile: nobody is waiting
                pass

        completions = _Completions(loop, wake)
    _loops[loop] = completions
    return completions


class AsyncTokenManager:
    """A ``TokenManager``'s token calls as coroutines. Give it the ``TokenManager`` your
    blocking code uses (if any): both wait for the same renewal."""

    def __init__(self, manager: TokenManager) -> None:
        self._manager = manager

    async def token(self, org_id: str) -> StoredToken:
        """The whole current token, renewed first if needed (``TokenManager.token``)."""
        return await self._manager._token_async(org_id, True, _completions())

    async def access_token(self, org_id: str) -> str:
        """A valid access token for the org (``TokenManager.access_token``)."""
        cached = self._manager._cached_access_token(org_id)  # the common case: one call, no awaitable built
        if cached is not None:
            return cached
        return await self._manager._token_async(org_id, False, _completions())

    async def authorization_header(self, org_id: str) -> str:
        """``"Bearer <access token>"``, for the Authorization header."""
        return f"Bearer {await self.access_token(org_id)}"

    def cached_access_token(self, org_id: str) -> Optional[str]:
        """The access token when the cache serves it as it is, else None (then await
        ``access_token``). Never waits and makes no request: for code that can use a
        token only if it is ready now."""
        return self._manager._cached_access_token(org_id)

    def __repr__(self) -> str:
        return f"AsyncTokenManager({self._manager!r})"


class AsyncOAuthClient:
    """An ``OAuthClient``'s two calls as coroutines. Each call runs on the core's I/O
    thread (no executor, no thread per call) while the loop keeps running; its outcome
    wakes the awaiting task on the loop's thread, in the loop pass that hears of it. A
    cancelled call still ends, unheard."""

    def __init__(self, client: OAuthClient) -> None:
        self._client = client

    async def get_org_token(self, client_id: str, org_id: str) -> OrgToken:
        """``OAuthClient.get_org_token`` without blocking the loop."""
        return await self._client._get_org_token_async(client_id, org_id, _completions())

    async def refresh_org_token(self, client_id: str, refresh_token: str) -> OrgToken:
        """``OAuthClient.refresh_org_token`` without blocking the loop."""
        return await self._client._refresh_org_token_async(client_id, refresh_token, _completions())

    def __repr__(self) -> str:
        return f"AsyncOAuthClient({self._client!r})"
