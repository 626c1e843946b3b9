"""One worker process of the multi-process tests (test_coordination.py), as a gunicorn or
Celery worker would be: its own TokenManager on a shared store, threads calling the
mock's protected endpoint with the tokens they get, for a while. Prints one JSON line:
{"calls", "refused", "errors"}: any answer but a 200 is refused (this worker signs by
hand and resends nothing, so a nonce two processes drew would show here).

Usage: python coordination_worker.py '<json settings>'; the app key comes from
$COBO_APP_PRIVATE_KEY and a Redis URL from $COBO_REDIS_URL (never argv: `ps` shows argv).
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
from typing import Any

import cobo_oauth
from cobo_oauth import AppKey, ClientConfig, OAuthClient, TokenManager, TokenManagerConfig

from sqlite_store import SqliteStore


def store_for(spec: dict[str, Any]) -> cobo_oauth.TokenStore:
    kind = spec["kind"]
    if kind == "file":
        return cobo_oauth.file_token_store(spec["path"])
    if kind == "redis":
        return cobo_oauth.redis_token_store(os.environ["COBO_REDIS_URL"], spec["prefix"])
    if kind == "sqlite":
        return cobo_oauth.coordinated_token_store(SqliteStore(spec["path"]))
    raise ValueError(kind)


def main(settings: dict[str, Any]) -> dict[str, int]:
    key = AppKey(os.environ["COBO_APP_PRIVATE_KEY"])
    config = ClientConfig(base_url=settings["base_url"], response_public_key=settings["response_public_key"])
    manager = TokenManager(
        OAuthClient(key, config),
        settings["client_id"],
        store_for(settings["store"]),
        TokenManagerConfig(refresh_margin_secs=settings["margin_secs"], lease_ttl_ms=settings.get("lease_ttl_ms", 10_000)),
    )
    url = urllib.parse.urlsplit(settings["base_url"] + "/wallets")
    until = time.monotonic() + settings["seconds"]
    counts = {"calls": 0, "refused": 0, "errors": 0}
    lock = threading.Lock()

    def call_protected() -> None:
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
                # 401: another process signed with the same key in the same millisecond
                # (the mock takes each nonce once per key); 500: the access token was refused.
                outcome = "calls" if response.status == 200 else "refused"
            except Exception as error:  # counted and shown: the test asserts there are none
                print(f"worker {os.getpid()}: {type(error).__name__}: {error}", file=sys.stderr)
                connection.close()
                outcome = "errors"
            with lock:
                counts[outcome] += 1
            time.sleep(settings.get("pause_secs", 0.05))
        connection.close()

    threads = [threading.Thread(target=call_protected) for _ in range(settings["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
