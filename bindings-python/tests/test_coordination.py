"""Many processes, many hosts: worker processes (worker.py, each its own
TokenManager) share a token file, a real Redis (tests/redis/with-redis.sh starts it) or
a store written in Python (sqlite3), against a strict mock that revokes a token family
when a spent refresh token comes back. The figures (COORDINATION.md): one renewal per
expiry window plus one, no spent refresh token presented, no protected call refused.
Also: a lease holder killed mid-renewal, a corrupt token file, Redis down."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import cobo_oauth
from cobo_oauth import AppKey, OAuthClient, StoreError, TokenManager, TokenManagerConfig
from conftest import CLIENT_ID, ORG_ID, STRICT_ACCESS_TTL as ACCESS_TTL, Mock, redis_url
from sqlite_store import SqliteStore

WORKER = Path(__file__).with_name("worker.py")
ACCESS_TTL = 4
MARGIN = 2


def start_worker(mock: Mock, app_key: AppKey, store: dict[str, Any], seconds: float, threads: int, **extra: Any) -> subprocess.Popen[bytes]:
    settings = {
        "base_url": mock.base_url,
        "response_public_key": mock.response_public_key,
        "client_id": CLIENT_ID,
        "org_id": ORG_ID,
        "store": store,
        "mode": "by-hand",
        "seconds": seconds,
        "threads": threads,
        "margin_secs": MARGIN,
        **extra,
    }
    env = {**os.environ, "COBO_APP_PRIVATE_KEY": app_key.private_key_hex()}
    if store["kind"] == "redis":
        env["COBO_REDIS_URL"] = redis_url()
    return subprocess.Popen([sys.executable, str(WORKER), json.dumps(settings)], stdout=subprocess.PIPE, env=env)


def run_workers(mock: Mock, app_key: AppKey, stores: list[dict[str, Any]], seconds: float, threads: int) -> dict[str, int]:
    """Runs one worker per store spec at once; checks COORDINATION.md's figures."""
    started = time.monotonic()
    workers = [start_worker(mock, app_key, store, seconds, threads) for store in stores]
    totals = {"calls": 0, "refused": 0, "errors": 0}
    for worker in workers:
        out, _ = worker.communicate(timeout=seconds + 60)
        assert worker.returncode == 0, f"a worker failed with {worker.returncode}"
        for name, value in json.loads(out).items():
            totals[name] += value
    windows = (time.monotonic() - started) / (ACCESS_TTL - MARGIN)
    counters = mock.counters()
    print(f"{len(stores)} processes x {threads} threads, {seconds} s: {totals}, {windows:.1f} windows, {counters}")
    assert totals["errors"] == 0 and totals["refused"] == 0, totals
    assert totals["calls"] > 10 * len(stores), totals
    assert 2 <= counters["issued"] <= math.ceil(windows) + 1, (counters, windows)
    assert (counters["spent_refusals"], counters["reuse_detections"]) == (0, 0), counters
    # The processes draw nonces from one clock: Cobo refused none, nor any token.
    assert (counters["protected_refused"], counters["nonce_reuses"]) == (0, 0), counters
    return counters


@pytest.mark.soak
def test_8_processes_x_8_threads_on_one_token_file(strict: Mock, app_key: AppKey, tmp_path: Path) -> None:
    store = {"kind": "file", "path": str(tmp_path / "tokens.json")}
    run_workers(strict, app_key, [store] * 8, seconds=30, threads=8)
    [record] = (tmp_path / "tokens.json").glob("*.json")
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o600


@pytest.mark.soak
def test_3_replicas_x_4_processes_on_one_redis(strict: Mock, app_key: AppKey) -> None:
    redis_url()
    # One app, one key prefix: replicas differ only in being separate processes and
    # store instances. Each replica is 4 processes.
    prefix = f"replicas-{uuid.uuid4().hex}:"
    run_workers(strict, app_key, [{"kind": "redis", "prefix": prefix}] * 12, seconds=30, threads=4)


def test_processes_on_a_coordinated_store_written_in_python(strict: Mock, app_key: AppKey, tmp_path: Path) -> None:
    path = str(tmp_path / "tokens.sqlite")
    run_workers(strict, app_key, [{"kind": "sqlite", "path": path}] * 3, seconds=8, threads=4)
    # The renewals really went through the protocol.
    store = SqliteStore(path)
    record = store.load_versioned(ORG_ID)
    assert record.token is not None and record.version >= 2, record


def test_two_managers_in_one_process_share_the_python_store(strict: Mock, app_key: AppKey, tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "tokens.sqlite"))
    config = TokenManagerConfig(refresh_margin_secs=MARGIN)
    managers = [
        TokenManager(OAuthClient(app_key, strict.config_for()), CLIENT_ID, cobo_oauth.coordinated_token_store(store), config)
        for _ in range(2)
    ]
    assert {manager.access_token(ORG_ID) for manager in managers} == {managers[0].access_token(ORG_ID)}
    assert strict.counters()["issued"] == 1
    assert store.calls["acquire_lease"] == 1 and store.calls["save_if_version"] == 1, store.calls


def test_a_coordinated_store_missing_a_method_is_refused() -> None:
    class Partial:
        def load_versioned(self, org_id: str) -> None: ...

    with pytest.raises(TypeError, match="save_if_version"):
        cobo_oauth.coordinated_token_store(Partial())  # type: ignore[arg-type]


def killed_holder(mock: Mock, app_key: AppKey, store: dict[str, Any], reopen: cobo_oauth.TokenStore) -> None:
    """A worker whose grant is in flight (the mock stalls it 30 s) is killed with SIGKILL:
    the file lock dies with it, a Redis lease lapses after its 1 s TTL. The next process
    renews within its own deadline (10 s, far from the stall; a lease outliving its holder
    would end it with a TimeoutError), and the store still parses."""
    mock.fault({"kind": "delay", "delay_ms": 30_000}, "get")
    holder = start_worker(mock, app_key, store, seconds=30, threads=1, lease_ttl_ms=1000)
    try:
        deadline = time.monotonic() + 15
        while mock.counters()["get"] < 1:
            assert time.monotonic() < deadline, "the holder never asked"
            time.sleep(0.02)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    client = OAuthClient(app_key, mock.config_for(total_timeout_ms=10_000))
    manager = TokenManager(client, CLIENT_ID, reopen, TokenManagerConfig(lease_ttl_ms=1000))
    assert manager.access_token(ORG_ID)
    assert mock.counters()["get"] == 2  # one new grant, after the holder's
    assert reopen.load(ORG_ID) is not None


def test_a_killed_lease_holder_on_the_token_file_blocks_nobody(mock: Mock, app_key: AppKey, tmp_path: Path) -> None:
    path = str(tmp_path / "tokens.json")
    killed_holder(mock, app_key, {"kind": "file", "path": path}, cobo_oauth.file_token_store(path))


def test_a_killed_lease_holder_on_redis_blocks_others_for_the_lease_ttl_at_most(mock: Mock, app_key: AppKey) -> None:
    prefix = f"killed-{uuid.uuid4().hex}:"
    killed_holder(mock, app_key, {"kind": "redis", "prefix": prefix}, cobo_oauth.redis_token_store(redis_url(), prefix))


def test_a_corrupt_token_file_is_moved_aside_and_never_quoted(
    mock: Mock, app_key: AppKey, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('{"org": {"access_token": "SECRET-IN-A-BROKEN-FILE", ', encoding="utf-8")
    manager = TokenManager(OAuthClient(app_key, mock.config_for()), CLIENT_ID, cobo_oauth.file_token_store(path))
    with caplog.at_level(logging.INFO, logger="cobo_oauth"):
        assert manager.access_token(ORG_ID)
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and "SECRET-IN-A-BROKEN-FILE" in aside[0].read_text(encoding="utf-8")
    assert any("moved to" in record.getMessage() for record in caplog.records)
    assert "SECRET-IN-A-BROKEN-FILE" not in caplog.text
    [record] = path.glob("*.json")  # the old file was split into one record per org
    assert json.loads(record.read_text(encoding="utf-8"))["version"] == 1


def test_redis_down_gives_store_errors_and_a_valid_token_is_still_served(mock: Mock, app_key: AppKey) -> None:
    server = os.environ.get("COBO_OAUTH_REDIS_SERVER") or pytest.fail("run under tests/redis/with-redis.sh")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redis = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.02)
        store = cobo_oauth.redis_token_store(f"redis://127.0.0.1:{port}/", "down:", timeout_ms=500)
        config = TokenManagerConfig(refresh_margin_secs=0, backoff_initial_ms=10, backoff_max_ms=10)
        manager = TokenManager(OAuthClient(app_key, mock.config_for()), CLIENT_ID, store, config)
        token = manager.access_token(ORG_ID)
    finally:
        redis.kill()
        redis.wait()
    assert manager.access_token(ORG_ID) == token
    manager.invalidate(ORG_ID, token)
    with pytest.raises(StoreError, match="redis"):
        manager.access_token(ORG_ID)
