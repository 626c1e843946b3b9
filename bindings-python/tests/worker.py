"""One worker process of the multi-process tests, as a gunicorn or Celery worker (or
another host) would be: its own TokenManager, on a shared store or none, calling the
mock's protected endpoint.

Usage: python worker.py '<json settings>'; the app key comes from $COBO_APP_PRIVATE_KEY
and a Redis URL from $COBO_REDIS_URL (never argv: `ps` shows argv). A test that models
other hosts gives each its own $COBO_OAUTH_CLOCK_DIR.

Modes (settings["mode"]):
- "by-hand" (test_coordination.py): `threads` threads sign by hand and call for `seconds`
  with the tokens they get, then print {"calls", "refused", "errors"}: any answer but a
  200 is refused (nothing is resent, so a nonce two processes drew would show here).
- "calls" and "renew" (test_refusals.py) first get the org's token, print {"ready": true}
  and wait for a line on stdin (the test changes the mock meanwhile). Then:
  - "calls": `calls` protected calls through `hook` ("requests", "httpx", "httpx-async"),
    spread over `threads` threads (tasks for httpx-async), each thread starting its calls
    at least `pace_ms` apart (0: flat out); prints {"calls", "failures", "statuses",
    "errors", "seconds"}.
  - "renew": the org's token again after invalidating it (the test expired it at the
    mock too): prints {"renewed": true} and whether the store still holds a refresh token.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
from collections import Counter
from typing import Any, Callable

import httpx
import requests

import cobo_oauth
from cobo_oauth import AppKey, ClientConfig, OAuthClient, ResponseVerifier, TokenManager, TokenManagerConfig
from cobo_oauth.httpx_auth import CoboHttpxAuth
from cobo_oauth.requests_auth import CoboRequestsAuth

from sqlite_store import SqliteStore


def emit(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def store_for(spec: dict[str, Any] | None) -> cobo_oauth.TokenStore | None:
    if spec is None:
        return None
    kind = spec["kind"]
    if kind == "file":
        return cobo_oauth.file_token_store(spec["path"])
    if kind == "redis":
        return cobo_oauth.redis_token_store(os.environ["COBO_REDIS_URL"], spec["prefix"])
    if kind == "sqlite":
        return cobo_oauth.coordinated_token_store(SqliteStore(spec["path"]))
    raise ValueError(kind)


def in_threads(count: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def by_hand(settings: dict[str, Any], key: AppKey, manager: TokenManager) -> dict[str, int]:
    url = urllib.parse.urlsplit(settings["base_url"] + "/wallets")
    until = time.monotonic() + settings["seconds"]
    counts = {"calls": 0, "refused": 0, "errors": 0}
    lock = threading.Lock()

    def call_protected(_: int) -> None:
        connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
        while time.monotonic() < until:
            try:
                token = manager.access_token(settings["org_id"])
                signed = key.sign_request("GET", url.path, "", "")
                headers = {
                    "Authorization": f"Bearer {token}",
                    "Biz-Api-Key": signed.api_key,
                    "Biz-Api-Nonce": signed.nonce,
                    "Biz-Api-Signature": signed.signature,
                }
                connection.request("GET", url.path, headers=headers)
                response = connection.getresponse()
                response.read()
                # 401: another process drew the same nonce; 500: the access token was refused.
                outcome = "calls" if response.status == 200 else "refused"
            except Exception as error:  # counted and shown: the test asserts there are none
                print(f"worker {os.getpid()}: {type(error).__name__}: {error}", file=sys.stderr)
                connection.close()
                outcome = "errors"
            with lock:
                counts[outcome] += 1
            time.sleep(settings.get("pause_secs", 0.05))
        connection.close()

    in_threads(settings["threads"], call_protected)
    return counts


def through_hook(settings: dict[str, Any], key: AppKey, manager: TokenManager) -> dict[str, Any]:
    url = settings["base_url"] + "/wallets"
    verifier = ResponseVerifier.with_key(settings["response_public_key"])
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

        in_threads(threads, work)
    failures = sum(errors.values()) + sum(count for status, count in statuses.items() if status != 200)
    seconds = round(time.monotonic() - started, 3)
    return {"calls": calls, "failures": failures, "statuses": dict(statuses), "errors": dict(errors), "seconds": seconds}


def main(settings: dict[str, Any]) -> None:
    key = AppKey(os.environ["COBO_APP_PRIVATE_KEY"])
    config = ClientConfig(base_url=settings["base_url"], response_public_key=settings["response_public_key"])
    store = store_for(settings.get("store"))
    manager_config = TokenManagerConfig(
        refresh_margin_secs=settings.get("margin_secs", 0), lease_ttl_ms=settings.get("lease_ttl_ms", 10_000)
    )
    manager = TokenManager(OAuthClient(key, config), settings["client_id"], store, manager_config)
    mode = settings["mode"]
    if mode == "by-hand":
        return emit(by_hand(settings, key, manager))
    token = manager.access_token(settings["org_id"])
    emit({"ready": True})
    sys.stdin.readline()
    if mode == "calls":
        emit(through_hook(settings, key, manager))
    elif mode == "renew":
        manager.invalidate(settings["org_id"], token)
        manager.access_token(settings["org_id"])
        stored = store.load(settings["org_id"]) if store is not None else None
        emit({"renewed": True, "stored": stored is not None and bool(stored.token.refresh_token)})
    else:
        raise ValueError(mode)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
