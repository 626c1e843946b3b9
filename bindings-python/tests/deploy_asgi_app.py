"""The ASGI app of test_deploy.py, a bare ASGI callable as `uvicorn --workers 4` serves
one: uvicorn spawns (not forks) its workers, so each imports this module afresh and
makes its own key, TokenManager (on the shared store) and hooks; nothing is configured
for them to share the token store and the host's nonce clock.

Two routes, each calling Cobo's /v2/wallets (the mock) and answering
`<worker pid> <Cobo's status>` (200 when Cobo accepted the call, 502 when it did not,
500 with the exception when the call raised):

  /hook    through `CoboHttpxAuth` on an `httpx.AsyncClient`
  /direct  `AsyncTokenManager.authorization_header` and `AppKey.sign_request` by hand,
           Cobo's signature checked with the `ResponseVerifier`

`GET /ready` answers without calling Cobo (the test's readiness probe).
"""

from __future__ import annotations

import os
import traceback
import urllib.parse
from typing import Any, Awaitable, Callable, Dict

import httpx

from cobo_oauth import AsyncTokenManager
from cobo_oauth.httpx_auth import CoboHttpxAuth
from deploy_common import ORG_ID, WALLETS_URL, build, mark_ready

key, manager, verifier = build()
tokens = AsyncTokenManager(manager)
auth = CoboHttpxAuth(key, manager, ORG_ID, verifier)
WALLETS_PATH = urllib.parse.urlsplit(WALLETS_URL).path
QUERY = "limit=10"

# Made on the worker's event loop, at lifespan startup.
clients: Dict[str, httpx.AsyncClient] = {}

Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]


async def call_with_hook() -> httpx.Response:
    return await clients["hook"].get(WALLETS_URL, params={"limit": 10})


async def call_direct() -> httpx.Response:
    authorization = await tokens.authorization_header(ORG_ID)
    signed = key.sign_request("GET", WALLETS_PATH, QUERY, "")
    headers = {
        "Authorization": authorization,
        "Biz-Api-Key": signed.api_key,
        "Biz-Api-Nonce": signed.nonce,
        "Biz-Api-Signature": signed.signature,
    }
    response = await clients["plain"].get(f"{WALLETS_URL}?{QUERY}", headers=headers)
    verifier.verify(response.content, response.headers["Biz-Timestamp"], response.headers["Biz-Resp-Signature"])
    return response


ROUTES = {"/hook": call_with_hook, "/direct": call_direct}


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            clients["hook"] = httpx.AsyncClient(auth=auth, timeout=15)
            clients["plain"] = httpx.AsyncClient(timeout=15)
            mark_ready()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for client in clients.values():
                await client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    route = ROUTES.get(scope["path"])
    if scope["path"] == "/ready":
        status, text = 200, "ready"
    elif route is None:
        status, text = 404, "not found"
    else:
        try:
            response = await route()
            status = 200 if response.status_code == 200 else 502
            text = f"{os.getpid()} {response.status_code} {response.text[:300]}"
        except Exception:
            status, text = 500, f"{os.getpid()} {traceback.format_exc()}"
    body = text.encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
