"""Faults during a renewal, against a strict mock (a spent refresh token presented again
revokes its family): a holder process killed or stopped mid-refresh, an interpreter that
exits while its renewal is in flight, a store whose errors quote the tokens. None may
leave a spent refresh token for another process to present (FENCING.md: the record is
marked in flight before the refresh is sent)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

import cobo_oauth
from cobo_oauth import AppKey, OAuthClient, StoreError, TokenManager, TokenManagerConfig
from conftest import CLIENT_ID, ORG_ID, Mock, redis_url

import test_coordination as coordination


def wait_for(what: str, done: Callable[[], bool], limit: float = 15) -> None:
    until = time.monotonic() + limit
    while not done():
        assert time.monotonic() < until, f"timed out waiting for {what}"
        time.sleep(0.02)


def renew_in_another_process(mock: Mock, app_key: AppKey, store: cobo_oauth.TokenStore) -> None:
    """A process that starts now renews (its token expired meanwhile, or is invalidated)."""
    manager = TokenManager(OAuthClient(app_key, mock.config_for()), CLIENT_ID, store, TokenManagerConfig(lease_ttl_ms=1000))
    token = manager.access_token(ORG_ID)
    if mock.counters()["get"] == 1:
        manager.invalidate(ORG_ID, token)
        manager.access_token(ORG_ID)


def assert_no_spent_token_presented(mock: Mock) -> dict[str, int]:
    counters = mock.counters()
    print(counters)
    assert (counters["spent_refusals"], counters["reuse_detections"]) == (0, 0), counters
    return counters


def holder_lost_mid_refresh(mock: Mock, app_key: AppKey, spec: dict[str, Any], store: Callable[[], cobo_oauth.TokenStore], sig: int) -> None:
    TokenManager(OAuthClient(app_key, mock.config_for()), CLIENT_ID, store()).access_token(ORG_ID)
    mock.fault({"kind": "delay", "delay_ms": 2_000}, "refresh")
    # Its margin (2 s of the token's 4) makes it refresh at once; the mock holds that.
    holder = coordination.start_worker(mock, app_key, spec, seconds=10, threads=1, lease_ttl_ms=1000)
    try:
        wait_for("the holder's refresh", lambda: mock.counters()["refresh"] == 1)
        holder.send_signal(sig)
        # Cobo spends the refresh token once the delay is over, whatever became of the holder.
        wait_for("the spent refresh", lambda: mock.counters()["issued"] == 2)
        renew_in_another_process(mock, app_key, store())
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.kill()
        holder.wait()
    counters = assert_no_spent_token_presented(mock)
    assert (counters["refresh"], counters["get"]) == (1, 2), counters
    stored = store().load(ORG_ID)
    assert stored is not None and not stored.refresh_in_flight


def test_a_holder_killed_mid_refresh_on_the_token_file(strict: Mock, app_key: AppKey, tmp_path: Path) -> None:
    path = str(tmp_path / "tokens.json")
    key = cobo_oauth.StoreKey.from_app_key(app_key)
    holder_lost_mid_refresh(strict, app_key, {"kind": "file", "path": path}, lambda: cobo_oauth.file_token_store(path, key), signal.SIGKILL)


def test_a_holder_killed_mid_refresh_on_redis(strict: Mock, app_key: AppKey) -> None:
    prefix = f"killed-refresh-{uuid.uuid4().hex}:"
    url = redis_url()
    holder_lost_mid_refresh(strict, app_key, {"kind": "redis", "prefix": prefix}, lambda: cobo_oauth.redis_token_store(url, prefix, store_key=cobo_oauth.StoreKey.from_app_key(app_key)), signal.SIGKILL)


def test_a_holder_stopped_past_its_redis_lease_mid_refresh(strict: Mock, app_key: AppKey) -> None:
    prefix = f"stopped-refresh-{uuid.uuid4().hex}:"
    url = redis_url()
    holder_lost_mid_refresh(strict, app_key, {"kind": "redis", "prefix": prefix}, lambda: cobo_oauth.redis_token_store(url, prefix, store_key=cobo_oauth.StoreKey.from_app_key(app_key)), signal.SIGSTOP)


EXITING = """
import asyncio, json, os, sys, urllib.request
import cobo_oauth
settings = json.loads(sys.argv[1])
key = cobo_oauth.AppKey(os.environ["COBO_APP_PRIVATE_KEY"])
config = cobo_oauth.ClientConfig(base_url=settings["base_url"], response_public_key=settings["response_public_key"])
manager = cobo_oauth.AsyncTokenManager(cobo_oauth.TokenManager(
    cobo_oauth.OAuthClient(key, config), settings["client_id"], cobo_oauth.file_token_store(settings["path"])))

def refreshes():
    with urllib.request.urlopen(settings["control_url"] + "/counters") as response:
        return json.load(response)["refresh"]

async def main():
    # The stored token is stale (the default margin is longer than its life): the call
    # starts a refresh, which the mock holds; the caller gives up on it.
    task = asyncio.ensure_future(manager.access_token(settings["org_id"]))
    while refreshes() < 1:
        await asyncio.sleep(0.02)
    task.cancel()

asyncio.run(main())
print("exiting", flush=True)
"""


def test_an_interpreter_exiting_mid_refresh_leaves_no_spent_token_to_present(strict: Mock, app_key: AppKey, tmp_path: Path) -> None:
    path = str(tmp_path / "tokens.json")
    TokenManager(OAuthClient(app_key, strict.config_for()), CLIENT_ID, cobo_oauth.file_token_store(path)).access_token(ORG_ID)
    strict.fault({"kind": "delay", "delay_ms": 2_000}, "refresh")
    settings = {"base_url": strict.base_url, "response_public_key": strict.response_public_key, "control_url": strict.control_url,
                "client_id": CLIENT_ID, "org_id": ORG_ID, "path": path}
    env = {**os.environ, "COBO_APP_PRIVATE_KEY": app_key.private_key_hex()}
    exiting = subprocess.run([sys.executable, "-c", EXITING, json.dumps(settings)], env=env, capture_output=True, timeout=60)
    assert b"exiting" in exiting.stdout, exiting.stderr.decode(errors="replace")
    wait_for("the spent refresh", lambda: strict.counters()["issued"] == 2)
    renew_in_another_process(strict, app_key, cobo_oauth.file_token_store(path))
    counters = assert_no_spent_token_presented(strict)
    assert counters["refresh"] == 1, counters


class QuotingStore:
    """A store whose database driver quotes the statement's parameters in its errors."""

    def __init__(self) -> None:
        self.quoted: list[str] = []

    def load(self, org_id: str) -> Optional[cobo_oauth.StoredToken]:
        return None

    def save(self, org_id: str, token: cobo_oauth.StoredToken) -> None:
        self.quoted += [token.token.access_token, token.token.refresh_token]
        raise RuntimeError(
            f"(sqlite3.OperationalError) database is locked [SQL: INSERT INTO tokens VALUES (?, ?, ?)]"
            f" [parameters: ('{org_id}', '{token.token.access_token}', '{token.token.refresh_token}')]"
        )

    def delete(self, org_id: str) -> None:
        pass


def test_a_store_error_quoting_the_tokens_reaches_no_log_and_no_caller(
    mock: Mock, app_key: AppKey, caplog: pytest.LogCaptureFixture
) -> None:
    store = QuotingStore()
    manager = TokenManager(OAuthClient(app_key, mock.config_for()), CLIENT_ID, store)
    with caplog.at_level(logging.DEBUG, logger="cobo_oauth"):
        with pytest.raises(StoreError) as raised:
            manager.access_token(ORG_ID)
    assert store.quoted and "database is locked" in str(raised.value) and "<redacted>" in str(raised.value)
    texts = [str(raised.value), repr(raised.value)] + [record.getMessage() for record in caplog.records]
    assert any("database is locked" in record.getMessage() for record in caplog.records), texts
    for secret in store.quoted:
        for text in texts:
            assert secret not in text, "a token reached a log record or the error"


def test_a_rolled_back_token_file_is_renewed_from_the_newer_token_held(strict: Mock, app_key: AppKey, tmp_path: Path) -> None:
    """The token file restored from a backup older than the token this process holds: its
    refresh token is one this process spent. The process renews from its own, newer one."""
    path = tmp_path / "tokens.json"
    manager = TokenManager(OAuthClient(app_key, strict.config_for()), CLIENT_ID, cobo_oauth.file_token_store(str(path)))
    first = manager.access_token(ORG_ID)
    [record] = path.glob("*.json")  # the org's record in the store's directory
    backup = record.read_bytes()
    manager.invalidate(ORG_ID, first)
    held = manager.access_token(ORG_ID)
    record.write_bytes(backup)
    manager.invalidate(ORG_ID, held)
    renewed = manager.access_token(ORG_ID)
    assert renewed not in (first, held)
    assert_no_spent_token_presented(strict)
    stored = cobo_oauth.file_token_store(str(path), cobo_oauth.StoreKey.from_app_key(app_key)).load(ORG_ID)
    assert stored is not None and stored.token.access_token == renewed, "the record moved forward"


def test_a_silent_redis_never_freezes_the_event_loop(app_key: AppKey) -> None:
    """A Redis that accepts connections and never answers: 8 async callers (1 org, then 8)
    wait on it while the event loop keeps running (the store is read on pool threads,
    never on the loop's); once it hangs up, every caller gets a store error."""
    import asyncio
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    hung_up, lock = threading.Event(), threading.Lock()

    def accept() -> None:
        while True:
            try:
                connection = listener.accept()[0]
            except OSError:  # the listener closed: the test is over
                return
            with lock:
                if hung_up.is_set():
                    connection.close()
                else:
                    held.append(connection)

    threading.Thread(target=accept, daemon=True).start()
    url = "redis://127.0.0.1:%d/" % listener.getsockname()[1]
    # Nothing listens at the token URL: the store fails first. The store's timeout is a
    # deadline for a stuck test only: the test hangs up on the callers itself.
    config = cobo_oauth.ClientConfig(base_url="http://127.0.0.1:9/v2", response_public_key=app_key.api_key(), total_timeout_ms=1_000)
    for orgs in (1, 8):
        hung_up.clear()
        store = cobo_oauth.redis_token_store(url, f"silent-{uuid.uuid4().hex}:", 60_000)
        manager = cobo_oauth.AsyncTokenManager(TokenManager(OAuthClient(app_key, config), CLIENT_ID, store))

        async def run() -> tuple[list[Any], int]:
            calls = [asyncio.ensure_future(manager.access_token(f"org-{i % orgs}")) for i in range(8)]
            # The loop turns (this coroutine polls) while Redis holds every caller.
            deadline = time.monotonic() + 60
            while not held:
                assert time.monotonic() < deadline, "nobody connected to Redis"
                await asyncio.sleep(0.01)
            waiting = sum(not call.done() for call in calls)
            with lock:
                hung_up.set()
                for connection in held:
                    connection.close()
                held.clear()
            return await asyncio.gather(*calls, return_exceptions=True), waiting

        results, waiting = asyncio.run(run())
        assert waiting == 8, f"{8 - waiting} callers did not wait for the silent Redis"
        assert all(isinstance(result, StoreError) for result in results), results
    listener.close()
