"""Deployments as users run them, against a strict mock (a spent refresh token revokes
its family) with access tokens of ACCESS_TTL seconds:

- `gunicorn --preload --workers 4 --threads 4` (gthread) serving deploy_wsgi_app.py, whose
  key, TokenManager and `CoboRequestsAuth` exist before gunicorn forks, on one token file
  and then on Redis;
- `uvicorn --workers 4` (spawned workers) serving deploy_asgi_app.py, a bare ASGI app
  calling through `CoboHttpxAuth` on an `httpx.AsyncClient` and through
  `AsyncTokenManager`, on one token file.

A pool of client threads in this process loads the server over loopback for LOAD_SECS;
every request makes one WaaS call (/v2/wallets). The figures, from the mock's counters:
no failed request, no refused protected call (a refusal is an error even when a hook
resends it), no nonce taken twice or out of the window, at most one renewal per expiry
window plus one, no spent refresh token presented, no token family revoked.

Run under tests/redis/with-redis.sh (make test-python does) for the Redis case.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("gunicorn")
pytest.importorskip("uvicorn")
pytest.importorskip("requests")
pytest.importorskip("httpx")

from cobo_oauth import AppKey, ResponseVerifier  # noqa: E402
from conftest import CLIENT_ID, ORG_ID, STRICT_ACCESS_TTL as ACCESS_TTL, Mock, redis_url  # noqa: E402

TESTS = Path(__file__).resolve().parent
MARGIN = 2
WORKERS = 4
THREADS = 4
CLIENT_THREADS = 16
LOAD_SECS = 20
# A client connection is replaced after this many requests, so that every worker
# process keeps accepting connections during the load.
REQUESTS_PER_CONNECTION = 20
READY_TIMEOUT_SECS = 60


def learn_cobos_clock(mock: Mock) -> None:
    """Verifies one signed answer of the mock, which sets the learned offset to Cobo's
    clock. The offset is shared by every process on the clock directory (this suite's,
    see conftest.py; the servers inherit it) and outlives them: a test that moved its
    mock's clock may have left it off, and the first nonces of the load would then be
    outside the mock's window."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        response = direct.open(mock.base_url + "/wallets", timeout=10)  # no CoboAuth: 401
    except urllib.error.HTTPError as refusal:
        response = refusal
    with response:
        body, headers = response.read(), response.headers
    ResponseVerifier.with_key(mock.response_public_key).verify(body, headers["Biz-Timestamp"], headers["Biz-Resp-Signature"])


@pytest.fixture
def strict(strict: Mock) -> Mock:
    """conftest's strict mock, this host's offset to its clock learned, then counters
    zeroed (learning the offset counts a refused call)."""
    learn_cobos_clock(strict)
    strict.reset()
    return strict


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(no log: {error})"


@dataclass
class Server:
    port: int
    log: Path
    process: subprocess.Popen[bytes]


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (master and workers), SIGKILL after 15 s;
    then SIGKILL to whatever of the group is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@contextlib.contextmanager
def serving(
    name: str, argv: list[str], mock: Mock, app_key: AppKey, store: dict[str, Any], tmp_path: Path
) -> Iterator[Server]:
    """Starts a server (`argv`, with PORT for its port) in its own process group and
    yields it once every worker process has started and it answers `GET /ready`;
    kills the whole group on exit, whatever happened."""
    port = free_port()
    ready_dir = tmp_path / f"{name}-ready"
    ready_dir.mkdir()
    settings = {
        "base_url": mock.base_url,
        "response_public_key": mock.response_public_key,
        "client_id": CLIENT_ID,
        "org_id": ORG_ID,
        "margin_secs": MARGIN,
        "store": store,
        "ready_dir": str(ready_dir),
    }
    env = {
        **os.environ,
        "COBO_DEPLOY_SETTINGS": json.dumps(settings),
        "COBO_APP_PRIVATE_KEY": app_key.private_key_hex(),
        "PYTHONPATH": os.pathsep.join([str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    if store["kind"] == "redis":
        env["COBO_REDIS_URL"] = redis_url()
    log = tmp_path / f"{name}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [part.replace("PORT", str(port)) for part in argv],
            env=env,
            cwd=TESTS,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(process, port, ready_dir, log)
        yield Server(port, log, process)
    finally:
        stop(process)


def wait_ready(process: subprocess.Popen[bytes], port: int, ready_dir: Path, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECS
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode} before it was ready:\n{log_tail(log)}")
        if len(list(ready_dir.iterdir())) >= WORKERS:
            try:
                with direct.open(f"http://127.0.0.1:{port}/ready", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
        if time.monotonic() > deadline:
            pytest.fail(f"the server was not ready within {READY_TIMEOUT_SECS} s:\n{log_tail(log)}")
        time.sleep(0.05)


@dataclass
class Load:
    served: int = 0
    failed: int = 0
    # Worker pid -> requests it served.
    by_worker: collections.Counter[str] = field(default_factory=collections.Counter)
    by_path: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)


def load(port: int, paths: list[str], seconds: float) -> Load:
    """CLIENT_THREADS threads send GETs (cycling through `paths`) for `seconds`."""
    result = Load()
    lock = threading.Lock()
    until = time.monotonic() + seconds

    def client(index: int) -> None:
        connection: http.client.HTTPConnection | None = None
        sent = 0
        while time.monotonic() < until:
            path = paths[(index + sent) % len(paths)]
            if connection is None or sent % REQUESTS_PER_CONNECTION == 0:
                if connection is not None:
                    connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            sent += 1
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                status, text = response.status, response.read().decode("utf-8", "replace")
            except Exception as error:
                connection.close()
                connection = None
                status, text = 0, f"{type(error).__name__}: {error}"
            with lock:
                if status == 200:
                    result.served += 1
                    result.by_worker[text.split(" ", 1)[0]] += 1
                    result.by_path[path] += 1
                else:
                    result.failed += 1
                    if len(result.failures) < 5:
                        result.failures.append(f"{path} -> {status}: {text[:600]}")
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def check_deployment(
    name: str, mock: Mock, server: Server, paths: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    result = load(server.port, paths, LOAD_SECS)
    windows = (time.monotonic() - started) / (ACCESS_TTL - MARGIN)
    counters = mock.counters()
    with capsys.disabled():
        print(
            f"\n[deploy] {name}: {result.served} requests served, {result.failed} failed; "
            f"renewals (issued) {counters['issued']} for {windows:.1f} expiry windows; "
            f"protected accepted {counters['protected_accepted']}, refused {counters['protected_refused']}; "
            f"nonce reuses {counters.get('nonce_reuses')}, out of window {counters.get('nonce_out_of_window')}; "
            f"spent refusals {counters['spent_refusals']}, reuse detections {counters['reuse_detections']}; "
            f"by worker pid {dict(result.by_worker)}, by path {dict(result.by_path)}"
        )
    context = f"{name}: {counters}\nfailures: {result.failures}\nserver log:\n{log_tail(server.log)}"
    assert result.failed == 0, context
    assert result.served > 0, context
    assert counters["protected_refused"] == 0, context
    assert counters.get("nonce_reuses", 0) == 0 and counters.get("nonce_out_of_window", 0) == 0, context
    # Each request made exactly one accepted WaaS call.
    assert counters["protected_accepted"] == result.served, context
    assert 1 <= counters["issued"] <= math.ceil(windows) + 1, (windows, context)
    assert (counters["spent_refusals"], counters["reuse_detections"]) == (0, 0), context
    # Every worker process served requests: the processes really shared the key.
    assert len(result.by_worker) == WORKERS, context


def gunicorn_argv() -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "--preload",
        "--workers", str(WORKERS),
        "--threads", str(THREADS),
        "--worker-class", "gthread",
        "--bind", "127.0.0.1:PORT",
        "--config", str(TESTS / "deploy_gunicorn_conf.py"),
        "--log-level", "warning",
        "--graceful-timeout", "5",
        "deploy_wsgi_app:app",
    ]  # fmt: skip


def test_gunicorn_preload_4_workers_x_4_threads_on_one_token_file(
    strict: Mock, app_key: AppKey, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = {"kind": "file", "path": str(tmp_path / "tokens.json")}
    with serving("gunicorn-file", gunicorn_argv(), strict, app_key, store, tmp_path) as server:
        check_deployment("gunicorn --preload, token file", strict, server, ["/wallets"], capsys)


def test_gunicorn_preload_4_workers_x_4_threads_on_redis(
    strict: Mock, app_key: AppKey, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    redis_url()
    store = {"kind": "redis", "prefix": f"deploy-{uuid.uuid4().hex}:"}
    with serving("gunicorn-redis", gunicorn_argv(), strict, app_key, store, tmp_path) as server:
        check_deployment("gunicorn --preload, Redis", strict, server, ["/wallets"], capsys)


def test_uvicorn_4_spawned_workers_async_hook_and_async_manager_on_one_token_file(
    strict: Mock, app_key: AppKey, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = {"kind": "file", "path": str(tmp_path / "tokens.json")}
    argv = [
        sys.executable, "-m", "uvicorn",
        "--workers", str(WORKERS),
        "--host", "127.0.0.1",
        "--port", "PORT",
        "--app-dir", str(TESTS),
        "--no-access-log",
        "--log-level", "warning",
        "--timeout-graceful-shutdown", "5",
        "deploy_asgi_app:app",
    ]  # fmt: skip
    with serving("uvicorn", argv, strict, app_key, store, tmp_path) as server:
        check_deployment("uvicorn --workers 4, token file", strict, server, ["/hook", "/direct"], capsys)
