"""``AsyncTokenManager`` and ``AsyncOAuthClient``: the token manager and the client for
asyncio code (FastAPI, aiohttp, Starlette; uvloop works too).

A fresh cached token is returned without leaving the event loop's thread. A caller that
must wait for a renewal awaits a future that the renewal completes when it ends: the
renewal runs on one thread of the core's, shared with every waiter (async or blocking)
of that ``TokenManager``, so a thousand waiting coroutines cost no thread each and the
loop never blocks. A renewal whose waiters were all cancelled still runs to the end and
saves the rotated token.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Callable, Optional

from cobo_oauth._native import OAuthClient, OrgToken, StoredToken, TokenManager, _Completions

__all__ = ["AsyncOAuthClient", "AsyncTokenManager"]


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Completions] = weakref.WeakKeyDictionary()


def _completions(loop: asyncio.AbstractEventLoop) -> _Completions:
    """Where the core's I/O thread leaves this loop's ``AsyncOAuthClient`` outcomes, made
    on the loop's first call: the loop watches their socket, or, where it cannot watch
    one (Windows), is woken by a call from the I/O thread."""
    known = _loops.get(loop)
    if known is not None:
        return known
    try:
        completions = _Completions()
        loop.add_reader(completions.fileno(), completions.drain)
    except (ValueError, NotImplementedError):

        def wake() -> None:
            try:
                loop.call_soon_threadsafe(completions.drain)
            except RuntimeError:  # the loop was closed meanwhile: nobody is waiting
                pass

        completions = _Completions(wake)
    _loops[loop] = completions
    return completions


def _settle(future: asyncio.Future[Any], result: Any, error: Optional[BaseException]) -> None:
    if future.done():  # the awaiting task was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _pending() -> tuple[asyncio.Future[Any], Callable[[Any, Optional[BaseException]], None]]:
    """A future of the running loop, and the callback that completes it: called on one of
    the core's threads, it hands the outcome to the loop's own thread."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def done(result: Any, error: Optional[BaseException]) -> None:
        try:
            loop.call_soon_threadsafe(_settle, future, result, error)
        except RuntimeError:  # the loop was closed meanwhile: nobody is waiting
            pass

    return future, done


class AsyncTokenManager:
    """A ``TokenManager``'s token calls as coroutines. Give it the ``TokenManager`` your
    blocking code uses (if any): both wait for the same renewal."""

    def __init__(self, manager: TokenManager) -> None:
        self._manager = manager

    def _begin(self, org_id: str, whole: bool) -> tuple[Any, Optional[asyncio.Future[Any]]]:
        """The answer at once, or the future the renewal in flight will complete (a
        plain function, not a coroutine: no extra frame)."""
        future, done = _pending()
        ready = self._manager._token_or_notify(org_id, done, whole)
        return (ready, None) if ready is not None else (None, future)

    async def token(self, org_id: str) -> StoredToken:
        """The whole current token, renewed first if needed (``TokenManager.token``)."""
        ready, future = self._begin(org_id, True)
        token: StoredToken = ready if future is None else await future
        return token

    async def access_token(self, org_id: str) -> str:
        """A valid access token for the org (``TokenManager.access_token``)."""
        cached = self._manager._cached_access_token(org_id)  # the common case: one call, no callback built
        if cached is not None:
            return cached
        ready, future = self._begin(org_id, False)
        token: str = ready if future is None else await future
        return token

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
        loop = asyncio.get_running_loop()
        return await self._client._get_org_token_async(client_id, org_id, loop, _completions(loop))

    async def refresh_org_token(self, client_id: str, refresh_token: str) -> OrgToken:
        """``OAuthClient.refresh_org_token`` without blocking the loop."""
        loop = asyncio.get_running_loop()
        return await self._client._refresh_org_token_async(client_id, refresh_token, loop, _completions(loop))

    def __repr__(self) -> str:
        return f"AsyncOAuthClient({self._client!r})"
