"""The library in the shapes Python services run in: forked workers (gunicorn --preload,
Celery prefork, multiprocessing), stores that raise BaseException, failures in the last
minutes of a token's life, and operators reading `logging` at 3 a.m."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import tempfile
import threading
import time
from typing import Any, Callable, Iterator, Optional

import pytest

import cobo_oauth
from cobo_oauth import (
    AppKey,
    OAuthClient,
    RequestTimeoutError,
    StoredToken,
    StoreError,
    TokenManager,
    TokenManagerConfig,
    UnavailableError,
)
from conftest import Mock

APP = "py-runtime-app"
ORG = "org-runtime"
JOIN_TIMEOUT = 60
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")


@pytest.fixture
def app(mock: Mock, app_key: AppKey) -> Iterator[Mock]:
    mock.register(APP, app_key.api_key(), [ORG])
    try:
        yield mock
    finally:
        mock.set_ttls(access_ttl_secs=43199)


@pytest.fixture
def oauth(app: Mock, make_client: Callable[..., OAuthClient]) -> OAuthClient:
    return make_client(max_retries=0)


def no_backoff(**settings: int) -> TokenManagerConfig:
    return TokenManagerConfig(**{"refresh_margin_secs": 0, "backoff_initial_ms": 1, "backoff_max_ms": 1, **settings})


# --- fork ---------------------------------------------------------------------------


def in_child(work: Callable[[], Any]) -> dict[str, Any]:
    """Runs `work` in a forked child with its stderr captured; returns what it returned
    (JSON), the seconds it took, and the child's stderr."""
    read_end, write_end = os.pipe()
    with tempfile.TemporaryFile() as stderr:
        pid = os.fork()
        if pid == 0:  # the child: report, never return into pytest
            code = 0
            try:
                os.dup2(stderr.fileno(), 2)
                started = time.monotonic()
                result: Any = work()
                report = {"result": result, "seconds": time.monotonic() - started}
            except BaseException as err:  # noqa: BLE001 - reported to the parent
                report = {"error": f"{type(err).__name__}: {err}"}
                code = 1
            with os.fdopen(write_end, "w") as out:
                json.dump(report, out)
            os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end) as child:
            text = child.read()
        _, status = os.waitpid(pid, 0)
        stderr.seek(0)
        report = json.loads(text) if text else {"error": "no report"}
        report["stderr"] = stderr.read().decode(errors="replace")
        report["status"] = status
    return report


@needs_fork
def test_a_client_and_manager_made_before_fork_work_in_the_child(app: Mock, oauth: OAuthClient) -> None:
    manager = TokenManager(oauth, APP, None, no_backoff())
    report = in_child(lambda: [oauth.get_org_token(APP, ORG).token_type, len(manager.access_token(ORG))])
    assert report.get("error") is None, report
    assert report["result"][0] == "Bearer" and report["result"][1] > 0
    assert report["seconds"] < 1.0, report
    assert app.counters()["get"] == 2


@needs_fork
def test_a_client_used_in_the_parent_works_in_the_child(app: Mock, oauth: OAuthClient) -> None:
    manager = TokenManager(oauth, APP, None, no_backoff())
    token = manager.access_token(ORG)
    oauth.get_org_token(APP, ORG)  # the parent's connection pool and runtime thread are live

    def child() -> list[Any]:
        return [manager.access_token(ORG) == token, oauth.get_org_token(APP, ORG).token_type]

    report = in_child(child)
    assert report.get("error") is None, report
    assert report["result"] == [True, "Bearer"], "the child keeps the parent's cached token"
    assert report["seconds"] < 1.0, report


@needs_fork
def test_a_renewal_in_flight_at_the_fork_is_not_inherited(app: Mock, oauth: OAuthClient) -> None:
    manager = TokenManager(oauth, APP, None, no_backoff())
    app.fault({"kind": "delay", "delay_ms": 2000}, "get", count=1)
    renewal = threading.Thread(target=manager.access_token, args=(ORG,), daemon=True)
    renewal.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    while app.counters()["get"] < 1:  # until the parent's renewal waits on the slow server
        assert time.monotonic() < deadline, "the parent's renewal never reached the mock"
        time.sleep(0.02)
    report = in_child(lambda: len(manager.access_token(ORG)))
    renewal.join(JOIN_TIMEOUT)
    assert report.get("error") is None, report
    assert report["seconds"] < 1.0, f"the child waited for a renewal it does not have: {report}"


@needs_fork
def test_dropping_inherited_objects_in_the_child_is_silent(app: Mock, oauth: OAuthClient) -> None:
    manager = TokenManager(oauth, APP, None, no_backoff())
    manager.access_token(ORG)
    holder = {"client": oauth, "manager": manager}
    del oauth, manager

    def child() -> str:
        holder.clear()  # the last references: the Rust objects drop here
        import gc

        gc.collect()
        return "dropped"

    report = in_child(child)
    assert report.get("error") is None, report
    assert report["result"] == "dropped"
    assert report["stderr"] == "", report["stderr"]
    assert os.WIFEXITED(report["status"]) and os.WEXITSTATUS(report["status"]) == 0


@needs_fork
def test_a_multiprocessing_fork_pool_shares_the_parents_token(app: Mock, oauth: OAuthClient) -> None:
    manager = TokenManager(oauth, APP, None, no_backoff())
    token = manager.access_token(ORG)
    context = multiprocessing.get_context("fork")
    global _POOL_MANAGER
    _POOL_MANAGER = manager
    with context.Pool(3) as pool:
        tokens = pool.map(_pool_access_token, range(6), chunksize=1)
    assert tokens == [token] * 6
    assert app.counters()["get"] == 1, "the workers used the token cached before the fork"


_POOL_MANAGER: Optional[TokenManager] = None


def _pool_access_token(_: int) -> str:
    assert _POOL_MANAGER is not None
    return _POOL_MANAGER.access_token(ORG)


# --- stores that raise what Python can raise ------------------------------------------


class Custom(BaseException):
    pass


@pytest.mark.parametrize(
    "raised",
    [KeyboardInterrupt, SystemExit, GeneratorExit, Custom, cobo_oauth._native._PanicException],
    ids=lambda cls: cls.__name__,
)
def test_a_store_raising_a_base_exception_releases_every_waiter(app: Mock, oauth: OAuthClient, raised: type) -> None:
    class Raising:
        def __init__(self) -> None:
            self.tokens: dict[str, StoredToken] = {}
            self.failing = True

        def load(self, org_id: str) -> Optional[StoredToken]:
            return self.tokens.get(org_id)

        def save(self, org_id: str, token: StoredToken) -> None:
            time.sleep(0.3)
            if self.failing:
                raise raised("the store gave up")
            self.tokens[org_id] = token

        def delete(self, org_id: str) -> None:
            self.tokens.pop(org_id, None)

    store = Raising()
    manager = TokenManager(oauth, APP, store, no_backoff())
    outcomes: list[BaseException] = []

    def call() -> None:
        try:
            manager.access_token(ORG)
        except BaseException as err:  # noqa: BLE001 - collected for the assertions
            outcomes.append(err)

    threads = [threading.Thread(target=call, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a waiter was never released"
    assert len(outcomes) == 8 and all(isinstance(err, StoreError) for err in outcomes), outcomes
    store.failing = False
    token = manager.access_token(ORG)
    assert store.tokens[ORG].token.access_token == token, "the org works again and the token was kept"
    assert app.counters()["get"] == 1


# --- a valid token is never withheld ---------------------------------------------------


def stale(app: Mock, oauth: OAuthClient, **config: int) -> tuple[TokenManager, str]:
    """A manager with a token for ORG that is valid for 10 minutes, all inside the margin."""
    app.set_ttls(access_ttl_secs=600)
    manager = TokenManager(oauth, APP, None, TokenManagerConfig(refresh_margin_secs=3600, **config))
    token = manager.access_token(ORG)
    app.set_ttls(access_ttl_secs=43199)
    app.reset()
    return manager, token


def test_inside_the_margin_a_failing_server_still_gets_callers_the_valid_token(app: Mock, oauth: OAuthClient) -> None:
    manager, token = stale(app, oauth, backoff_initial_ms=300, backoff_max_ms=300)
    app.fault({"kind": "unsigned", "status": 503}, "refresh", count=1)
    assert manager.access_token(ORG) == token
    assert [manager.access_token(ORG) for _ in range(20)] == [token] * 20
    assert app.counters()["refresh"] == 1, "the backoff kept the others from asking"
    time.sleep(0.35)
    assert manager.access_token(ORG) != token


def test_an_expired_token_and_a_failing_server_back_off(app: Mock, oauth: OAuthClient) -> None:
    app.set_ttls(access_ttl_secs=1)
    manager = TokenManager(oauth, APP, None, TokenManagerConfig(refresh_margin_secs=0, backoff_initial_ms=400, backoff_max_ms=400))
    manager.access_token(ORG)
    app.set_ttls(access_ttl_secs=43199)
    time.sleep(1.1)
    app.reset()
    app.fault({"kind": "unsigned", "status": 503}, "refresh", count=1)
    for _ in range(30):
        with pytest.raises(UnavailableError):
            manager.access_token(ORG)
    assert app.counters()["refresh"] == 1
    time.sleep(0.45)
    manager.access_token(ORG)


def test_invalidate_ignores_a_token_already_replaced(app: Mock, oauth: OAuthClient) -> None:
    manager = TokenManager(oauth, APP, None, no_backoff())
    first = manager.access_token(ORG)
    assert manager.invalidate(ORG, first) is True
    second = manager.access_token(ORG)
    assert manager.invalidate(ORG, first) is False
    assert manager.access_token(ORG) == second
    assert app.counters()["refresh"] == 1


def test_a_dripping_body_ends_at_the_timeout(app: Mock, make_client: Callable[..., OAuthClient]) -> None:
    client = make_client(max_retries=0, timeout_ms=800)
    # One byte per 200 ms: each read is quick, and only a deadline over the whole body
    # ends it (else it would take minutes and return a token).
    app.fault({"kind": "slow_body", "interval_ms": 200}, "get", count=1)
    with pytest.raises(RequestTimeoutError):
        client.get_org_token(APP, ORG)


# --- logging ---------------------------------------------------------------------------


def test_renewals_are_logged_without_secrets(
    app: Mock, oauth: OAuthClient, app_key: AppKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cobo_oauth")
    manager = TokenManager(oauth, APP, None, no_backoff())
    stored = manager.token(ORG)
    manager.invalidate(ORG, stored.token.access_token)
    app.fault({"kind": "unsigned", "status": 503}, "refresh", count=1)
    with pytest.raises(UnavailableError):
        manager.access_token(ORG)

    records = [r for r in caplog.records if r.name.startswith("cobo_oauth")]
    messages = [r.getMessage() for r in records]
    succeeded = [m for m in messages if m.startswith("renewal succeeded")]
    failed = [r for r in records if r.getMessage().startswith("renewal failed")]
    assert succeeded and f"org_id={ORG}" in succeeded[0] and "operation=org_implicit" in succeeded[0], messages
    assert "duration_ms=" in succeeded[0]
    assert failed and failed[0].levelno == logging.WARNING, messages
    assert "error=unavailable status=503" in failed[0].getMessage()
    assert any(m.startswith("renewal started") and "operation=refresh" in m for m in messages), messages
    secrets = [stored.token.access_token, stored.token.refresh_token, app_key.private_key_hex()]
    for message in messages:
        for secret in secrets:
            assert secret not in message
