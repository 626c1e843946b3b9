"""One process of test_refusals.py's multi-process tests, as another host (or another
worker of the same host) would be: its own TokenManager, calling the mock's protected
endpoint through one of the request hooks. Its nonce clock lives in
$COBO_OAUTH_CLOCK_DIR, which the test sets: different directories model different hosts,
so no Cobo clock this process learns reaches the other tests.

Usage: python refusal_worker.py '<json settings>'; the app key comes from
$COBO_APP_PRIVATE_KEY (never argv: `ps` shows argv). Protocol on stdio, one JSON object a
line: the worker gets the org's token, prints {"ready": true} and waits for a line on
stdin (the test changes the mock meanwhile), then runs its mode and prints its result.

Modes:
- "calls": `calls` protected calls through `hook` ("requests", "httpx", "httpx-async"),
  spread over `threads` threads (tasks for httpx-async), each thread starting its calls
  at least `pace_ms` apart (0: flat out); prints {"calls", "failures", "statuses",
  "errors", "seconds"}.
- "renew": the org's token again after invalidating it (the test expired it at the
  mock too): prints {"renewed": true} and whether the store still holds a refresh token.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

import httpx
import requests

import cobo_oauth
from cobo_oauth import AppKey, ClientConfig, OAuthClient, ResponseVerifier, TokenManager, TokenManagerConfig
from cobo_oauth.httpx_auth import CoboHttpxAuth
from cobo_oauth.requests_auth import CoboRequestsAuth


def emit(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def run_calls(settings: dict[str, Any], key: AppKey, manager: TokenManager, verifier: ResponseVerifier) -> dict[str, Any]:
    url = settings["base_url"] + "/wallets"
    hook, calls, threads = settings["hook"], settings["calls"], settings.get("threads", 1)
    pace = settings.get("pace_ms", 0) / 1000
    started = time.monotonic()
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    lock = threading.Lock()

    def record(status: int | None, error: BaseException | None) -> None:
        with lock:
            if error is not None:
                errors[type(error).__name__] += 1
            else:
                assert status is not None
                statuses[status] += 1

    if hook == "httpx-async":
        auth = CoboHttpxAuth(key, manager, settings["org_id"], verifier)

        async def run() -> None:
            gate = asyncio.Semaphore(threads)
            async with httpx.AsyncClient(auth=auth, timeout=30) as client:

                async def one(n: int) -> None:
                    async with gate:
                        try:
                            record((await client.get(url, params={"call": n})).status_code, None)
                        except Exception as error:  # counted: the test asserts there are none
                            record(None, error)

                await asyncio.gather(*(one(n) for n in range(calls)))

        asyncio.run(run())
    else:

        def work(first: int) -> None:
            if hook == "requests":
                session = requests.Session()
                session.auth = CoboRequestsAuth(key, manager, settings["org_id"], verifier)
                send = lambda n: session.get(url, params={"call": n}, timeout=30).status_code  # noqa: E731
            else:
                client = httpx.Client(auth=CoboHttpxAuth(key, manager, settings["org_id"], verifier), timeout=30)
                send = lambda n: client.get(url, params={"call": n}).status_code  # noqa: E731
            due = time.monotonic()
            for n in range(first, calls, threads):
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                due = max(due, time.monotonic()) + pace
                try:
                    record(send(n), None)
                except Exception as error:  # counted: the test asserts there are none
                    record(None, error)

        workers = [threading.Thread(target=work, args=(first,)) for first in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    failures = sum(errors.values()) + sum(count for status, count in statuses.items() if status != 200)
    seconds = round(time.monotonic() - started, 3)
    return {"calls": calls, "failures": failures, "statuses": dict(statuses), "errors": dict(errors), "seconds": seconds}


def main(settings: dict[str, Any]) -> None:
    key = AppKey(os.environ["COBO_APP_PRIVATE_KEY"])
    config = ClientConfig(base_url=settings["base_url"], response_public_key=settings["response_public_key"])
    store = cobo_oauth.file_token_store(settings["store_path"]) if "store_path" in settings else None
    manager = TokenManager(OAuthClient(key, config), settings["client_id"], store, TokenManagerConfig(refresh_margin_secs=0))
    verifier = ResponseVerifier.with_key(settings["response_public_key"])
    token = manager.access_token(settings["org_id"])
    emit({"ready": True})
    sys.stdin.readline()
    if settings["mode"] == "calls":
        emit(run_calls(settings, key, manager, verifier))
    elif settings["mode"] == "renew":
        manager.invalidate(settings["org_id"], token)
        manager.access_token(settings["org_id"])
        stored = store.load(settings["org_id"]) if store is not None else None
        emit({"renewed": True, "stored": stored is not None and bool(stored.token.refresh_token)})
    else:
        raise ValueError(settings["mode"])


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
