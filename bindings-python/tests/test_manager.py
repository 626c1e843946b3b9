"""The TokenManager from Python, mirroring core/tests/manager.rs: single flight per org,
stores (built-in and written in Python), fallbacks, and the GIL released around all of it."""

from __future__ import annotations

import os
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from cobo_oauth import (
    AppKey,
    AuthorizationRequiredError,
    CoboOAuthError,
    InvalidArgumentError,
    OAuthClient,
    OrgToken,
    ServerError,
    StoreKey,
    StoredToken,
    StoreError,
    TokenLease,
    TokenManager,
    TokenManagerConfig,
    TokenStore,
    TokenStoreProtocol,
    file_token_store,
    memory_token_store,
)
from conftest import Mock

APP = "py-manager-app"
ORG = "org-a"
OTHER_ORG = "org-b"
DEFAULT_ACCESS_TTL = 43199
JOIN_TIMEOUT = 60  # a hung thread means a deadlock: fail instead of hanging the suite


class DictStore:
    """A store written in Python: a dict, a lock, counters and a switch to fail saves."""

    def __init__(self, delay: float = 0.0) -> None:
        self.tokens: dict[str, StoredToken] = {}
        self.lock = threading.Lock()
        self.failing = False
        self.saves = 0
        self.deletes = 0
        self.delay = delay

    def load(self, org_id: str) -> Optional[StoredToken]:
        time.sleep(self.delay)
        with self.lock:
            return self.tokens.get(org_id)

    def save(self, org_id: str, token: StoredToken) -> None:
        time.sleep(self.delay)
        if self.failing:
            raise OSError("disk full")
        with self.lock:
            self.saves += 1
            self.tokens[org_id] = token

    def delete(self, org_id: str) -> None:
        with self.lock:
            self.deletes += 1
            self.tokens.pop(org_id, None)


@pytest.fixture
def app(mock: Mock, app_key: AppKey) -> Iterator[Mock]:
    """This module's app, installed in two orgs; the access TTL is restored afterwards."""
    mock.register(APP, app_key.api_key(), [ORG, OTHER_ORG])
    try:
        yield mock
    finally:
        mock.set_ttls(access_ttl_secs=DEFAULT_ACCESS_TTL)
        mock.register(APP, app_key.api_key(), [ORG, OTHER_ORG])


@pytest.fixture
def oauth(app: Mock, make_client: Callable[..., OAuthClient]) -> OAuthClient:
    return make_client(max_retries=0)


@pytest.fixture
def manager_for(oauth: OAuthClient) -> Callable[..., TokenManager]:
    def make(store: Any = None, **config: int) -> TokenManager:
        # No backoff: these tests retry at once after a failure (test_runtime.py tests it).
        settings = {"refresh_margin_secs": 0, "backoff_initial_ms": 1, "backoff_max_ms": 1}
        settings.update(config)
        return TokenManager(oauth, APP, store, TokenManagerConfig(**settings))

    return make


def expire(manager: TokenManager, mock: Mock) -> None:
    """Gives the manager an access token for ORG that has expired, then zeroes the counters."""
    mock.set_ttls(access_ttl_secs=1)
    manager.access_token(ORG)
    time.sleep(1.1)
    mock.set_ttls(access_ttl_secs=DEFAULT_ACCESS_TTL)
    mock.reset()


def run_threads(count: int, target: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = target(index)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        assert not thread.is_alive(), "a thread is stuck: deadlock?"
    assert not errors, errors
    return results


@pytest.mark.parametrize("store_kind", ["memory", "python"])
def test_sixty_four_callers_share_one_refresh(
    store_kind: str, app: Mock, manager_for: Callable[..., TokenManager]
) -> None:
    store = memory_token_store() if store_kind == "memory" else DictStore(delay=0.001)
    manager = manager_for(store)
    expire(manager, app)
    barrier = threading.Barrier(64)

    def call(_: int) -> str:
        barrier.wait()
        return manager.access_token(ORG)

    tokens = run_threads(64, call)
    assert len(set(tokens)) == 1
    counters = app.counters()
    assert (counters["refresh"], counters["get"]) == (1, 0)
    assert manager.access_token(ORG) == tokens[0]  # fresh now: from the cache
    assert app.counters()["total"] == 1


def test_a_python_store_under_many_threads_does_not_deadlock(
    app: Mock, app_key: AppKey, manager_for: Callable[..., TokenManager]
) -> None:
    """32 threads, 16 orgs: each org's one renewal calls the Python store while other
    threads wait for it (GIL released) or run Python code (GIL held)."""
    orgs = [f"org-{i}" for i in range(16)]
    app.register(APP, app_key.api_key(), orgs)
    store = DictStore(delay=0.0005)
    manager = manager_for(store)

    def work(index: int) -> list[str]:
        tokens = []
        for org in orgs[index % 4 :] + orgs[: index % 4]:
            tokens.append(manager.access_token(org))
            assert manager.refresh_token_expires_at(org) is not None
            assert store.load(org) is not None
            sum(range(2000))  # hold the GIL a little
        return sorted(tokens)

    results = run_threads(32, work)
    assert all(tokens == results[0] for tokens in results)
    assert len(set(results[0])) == 16 and store.saves == 16
    counters = app.counters()
    assert (counters["get"], counters["refresh"]) == (16, 0)


@pytest.mark.parametrize("call", ["invalidate", "refresh_token_expires_at", "access_token"])
def test_manager_calls_wait_for_a_python_store_without_holding_the_gil(
    call: str, app: Mock, manager_for: Callable[..., TokenManager]
) -> None:
    """A renewal holds the org's lock while the Python store saves; a caller on the main
    thread waiting for that lock must not hold the GIL the store needs to return."""
    entered = threading.Event()

    class SlowStore(DictStore):
        def save(self, org_id: str, token: StoredToken) -> None:
            entered.set()
            time.sleep(0.3)  # releases the GIL; re-taking it needs the main thread's call detached
            super().save(org_id, token)

    manager = manager_for(SlowStore())
    renewal = threading.Thread(target=manager.access_token, args=(ORG,), daemon=True)
    renewal.start()
    assert entered.wait(10)
    args = (ORG, "a token seen earlier") if call == "invalidate" else (ORG,)
    getattr(manager, call)(*args)  # blocks on the org's lock until the save returns
    renewal.join(JOIN_TIMEOUT)
    assert not renewal.is_alive()


def test_a_slow_org_does_not_hold_up_another(app: Mock, manager_for: Callable[..., TokenManager]) -> None:
    """One org's renewal is held in its save; another org's call ends meanwhile. Were it
    held up, it would end only once a watchdog released the first: the order tells."""
    saving, release = threading.Event(), threading.Event()

    class HeldStore(DictStore):
        def save(self, org_id: str, token: StoredToken) -> None:
            if org_id == ORG:
                saving.set()
                release.wait(JOIN_TIMEOUT)
            super().save(org_id, token)

    manager = manager_for(HeldStore())
    finished: list[str] = []

    def slow() -> None:
        manager.access_token(ORG)
        finished.append(ORG)

    thread = threading.Thread(target=slow, daemon=True)
    thread.start()
    assert saving.wait(JOIN_TIMEOUT), "the slow org's renewal never reached its save"
    manager.access_token(OTHER_ORG)
    finished.append(OTHER_ORG)
    release.set()
    thread.join(JOIN_TIMEOUT)
    assert finished == [OTHER_ORG, ORG]


def test_a_python_store_holds_the_rotated_token_before_anyone_uses_it(
    app: Mock, manager_for: Callable[..., TokenManager]
) -> None:
    store = DictStore()
    manager = manager_for(store)
    expire(manager, app)
    token = manager.access_token(ORG)
    assert store.tokens[ORG].token.access_token == token
    assert app.counters()["refresh"] == 1
    assert store.saves == 2
    assert isinstance(store, TokenStoreProtocol)


def test_a_failing_python_store_fails_the_call_and_loses_nothing(
    app: Mock, manager_for: Callable[..., TokenManager]
) -> None:
    store = DictStore()
    manager = manager_for(store)
    expire(manager, app)
    store.failing = True
    with pytest.raises(StoreError) as raised:
        manager.access_token(ORG)
    assert raised.value.reason == "OSError: disk full"
    assert isinstance(raised.value, CoboOAuthError)
    # The rotated token lives on in memory; once the store recovers it is saved and
    # served without another request (the old refresh token is spent).
    store.failing = False
    token = manager.access_token(ORG)
    assert store.tokens[ORG].token.access_token == token
    counters = app.counters()
    assert (counters["refresh"], counters["get"]) == (1, 0)


def test_a_new_manager_continues_from_a_python_store(app: Mock, manager_for: Callable[..., TokenManager]) -> None:
    store = DictStore()
    token = manager_for(store).access_token(ORG)
    second = manager_for(store)
    assert second.access_token(ORG) == token
    assert app.counters()["get"] == 1, "no second org_implicit grant"
    second.invalidate(ORG, second.access_token(ORG))
    assert second.access_token(ORG) != token
    counters = app.counters()
    assert (counters["get"], counters["refresh"]) == (1, 1)


def test_a_python_store_that_misbehaves(app: Mock, manager_for: Callable[..., TokenManager]) -> None:
    class WrongType(DictStore):
        def load(self, org_id: str) -> Any:
            return 42

    with pytest.raises(StoreError) as raised:
        manager_for(WrongType()).access_token(ORG)
    assert raised.value.reason == "load() returned int, not a StoredToken or None"

    class Broken(DictStore):
        def load(self, org_id: str) -> Any:
            raise KeyError(org_id)

    with pytest.raises(StoreError, match="KeyError: 'org-a'"):
        manager_for(Broken()).token(ORG)
    with pytest.raises(StoreError):
        manager_for(Broken()).refresh_token_expires_at(ORG)

    with pytest.raises(TypeError, match="load, save, delete"):
        manager_for(object())
    assert app.counters()["total"] == 0


def test_a_spent_refresh_token_falls_back_to_one_new_grant(
    app: Mock, oauth: OAuthClient, manager_for: Callable[..., TokenManager]
) -> None:
    store = memory_token_store()
    manager = manager_for(store)
    manager.access_token(ORG)
    stored = store.load(ORG)
    assert stored is not None
    oauth.refresh_org_token(APP, stored.token.refresh_token)  # someone else spends it
    app.reset()
    manager.invalidate(ORG, manager.access_token(ORG))
    token = manager.access_token(ORG)
    reloaded = store.load(ORG)
    assert reloaded is not None and reloaded.token.access_token == token
    counters = app.counters()
    assert (counters["refresh"], counters["get"]) == (1, 1)


def test_an_org_that_withdrew_needs_authorization_again(
    app: Mock, app_key: AppKey, manager_for: Callable[..., TokenManager]
) -> None:
    store = DictStore()
    manager = manager_for(store)
    token = manager.access_token(ORG)
    app.register(APP, app_key.api_key(), [])
    manager.invalidate(ORG, manager.access_token(ORG))
    with pytest.raises(AuthorizationRequiredError) as raised:
        manager.access_token(ORG)
    err = raised.value
    assert (err.org_id, err.status, err.error) == (ORG, 403, "unauthorized_client")
    assert err.error_description
    assert ORG in str(err) and token not in str(err) and token not in repr(err)
    assert store.deletes == 1 and store.load(ORG) is None
    assert manager.refresh_token_expires_at(ORG) is None


def test_transient_failures_leave_the_stored_tokens_alone(
    app: Mock, manager_for: Callable[..., TokenManager]
) -> None:
    store = memory_token_store()
    manager = manager_for(store)
    expire(manager, app)
    before = store.load(ORG)
    fault = {"kind": "server_error", "status": 500, "error_code": 1, "error_message": "x", "error_id": "e1"}
    app.fault(fault, "refresh", count=1)
    with pytest.raises(ServerError):
        manager.access_token(ORG)
    assert store.load(ORG) == before
    manager.access_token(ORG)  # the refresh token was not spent
    counters = app.counters()
    assert (counters["refresh"], counters["get"]) == (2, 0)


def test_the_refresh_tokens_expiry_is_tracked_and_honoured(
    app: Mock, manager_for: Callable[..., TokenManager]
) -> None:
    manager = manager_for(refresh_token_lifetime_secs=3600)
    assert manager.refresh_token_expires_at(ORG) is None
    before = datetime.now(timezone.utc)
    manager.access_token(ORG)
    expires = manager.refresh_token_expires_at(ORG)
    assert expires is not None and expires.tzinfo is not None
    assert timedelta(seconds=3599) <= expires - before < timedelta(seconds=3605)

    # A refresh token past its lifetime is not even tried: a new grant instead.
    manager = manager_for(refresh_token_lifetime_secs=0)
    manager.access_token(OTHER_ORG)
    app.reset()
    manager.invalidate(OTHER_ORG, manager.access_token(OTHER_ORG))
    manager.access_token(OTHER_ORG)
    counters = app.counters()
    assert (counters["refresh"], counters["get"]) == (0, 1)


def test_a_lease_serves_until_the_refresh_margin_and_hides_its_token(
    app: Mock, manager_for: Callable[..., TokenManager]
) -> None:
    manager = manager_for(refresh_margin_secs=600)
    lease = manager.lease(ORG)
    stored = manager.token(ORG)
    assert isinstance(lease, TokenLease)
    assert lease.access_token == stored.token.access_token
    assert lease.serve_until == stored.token.expires_at - timedelta(seconds=600)
    assert lease.serve_until.tzinfo is not None
    assert lease == TokenLease(access_token=lease.access_token, serve_until=lease.serve_until)
    assert repr(lease).startswith("TokenLease(access_token='…', serve_until=datetime.datetime(")
    assert lease.access_token not in repr(lease) + str(lease)
    # After invalidate the manager renews: a new lease, a new token.
    assert manager.invalidate(ORG, lease.access_token)
    assert manager.lease(ORG).access_token != lease.access_token
    with pytest.raises(InvalidArgumentError):
        TokenLease(access_token="t", serve_until=datetime(2030, 1, 1))  # naive


def test_a_forgotten_org_leaves_the_cache_and_the_store(
    app: Mock, app_key: AppKey, tmp_path: Path, manager_for: Callable[..., TokenManager]
) -> None:
    """An org that uninstalled the app: its tokens leave the cache and the store (no byte
    of them stays on disk); the next call asks Cobo again, which now refuses."""
    path = tmp_path / "tokens.json"
    store = file_token_store(path)
    manager = manager_for(store)
    token, other = manager.access_token(ORG), manager.access_token(OTHER_ORG)
    manager.forget(ORG)
    assert store.load(ORG) is None
    on_disk = "".join(p.read_text() for p in path.iterdir())
    assert token not in on_disk
    kept = store.load(OTHER_ORG)
    assert kept is not None and kept.token.access_token == other, "the other org is kept"
    app.register(APP, app_key.api_key(), [OTHER_ORG])
    with pytest.raises(AuthorizationRequiredError):
        manager.access_token(ORG)
    assert manager.access_token(OTHER_ORG) == other
    assert app.counters()["get"] == 3, "the forgotten org asked again; the other was served"
    with pytest.raises(InvalidArgumentError):
        manager.forget(" ")


def test_the_file_store_persists_across_managers(
    app: Mock, app_key: AppKey, tmp_path: Path, manager_for: Callable[..., TokenManager]
) -> None:
    path = tmp_path / "tokens.json"
    token = manager_for(file_token_store(str(path))).access_token(ORG)
    # A directory of records, one per org; beside it its lock and its renewal leases.
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert sorted(os.listdir(tmp_path)) == ["tokens.json", "tokens.json.leases", "tokens.json.lock"]
    [record] = path.glob("*.json")
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o600
    assert sorted(p.suffix for p in path.iterdir()) == [".json", ".lock"], "no temp file left behind"
    restarted = manager_for(file_token_store(path))  # a PathLike works too
    assert restarted.access_token(ORG) == token
    assert app.counters()["get"] == 1
    # Read without a manager: given the key it seals with.
    store = file_token_store(path, StoreKey.from_app_key(app_key))
    loaded = store.load(ORG)
    assert loaded is not None and loaded.token.access_token == token
    assert repr(store) == f"TokenStore(file={str(path)!r})"

    # A record that does not parse is moved aside: a new grant, the old text kept.
    record.write_text("not json")
    assert manager_for(file_token_store(path)).access_token(ORG) != token
    assert [p.read_text() for p in path.glob("*.corrupt-*")] == ["not json"]
    with pytest.raises(InvalidArgumentError):
        file_token_store(" ")


def test_builtin_stores_round_trip_a_token_made_in_python() -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=8)))
    org_token = OrgToken(
        access_token="at-secret",
        token_type="Bearer",
        scope="",
        expires_in=43199,
        refresh_token="rt-secret",
        expires_at=expires,
    )
    stored = StoredToken(token=org_token, refresh_expires_at=expires + timedelta(days=30))
    assert stored.refresh_expires_at.utcoffset() == timedelta(0)
    assert stored.refresh_expires_at == expires + timedelta(days=30)
    store = memory_token_store()
    assert isinstance(store, TokenStore) and isinstance(store, TokenStoreProtocol)
    assert store.load("org") is None
    store.save("org", stored)
    assert store.load("org") == stored and hash(store.load("org")) == hash(stored)
    store.delete("org")
    assert store.load("org") is None
    with pytest.raises(InvalidArgumentError, match="timezone-aware"):
        StoredToken(token=org_token, refresh_expires_at=datetime(2030, 1, 1))
    with pytest.raises(TypeError):
        StoredToken(token="at-secret", refresh_expires_at=expires)  # type: ignore[arg-type]


def test_config_defaults_arguments_and_headers(app: Mock, oauth: OAuthClient) -> None:
    config = TokenManagerConfig()
    assert (config.refresh_margin_secs, config.refresh_token_lifetime_secs) == (300, 2592000)
    assert config == TokenManagerConfig(refresh_margin_secs=300)
    with pytest.raises(InvalidArgumentError, match="refresh_margin_secs"):
        TokenManagerConfig(refresh_margin_secs=-1)
    with pytest.raises(InvalidArgumentError):
        TokenManager(oauth, "")
    manager = TokenManager(oauth, APP)
    with pytest.raises(InvalidArgumentError):
        manager.access_token(" ")
    header = manager.authorization_header(ORG)
    assert header == f"Bearer {manager.access_token(ORG)}"
    # A margin longer than the token's life renews on every call.
    eager = TokenManager(oauth, APP, None, TokenManagerConfig(refresh_margin_secs=50_000))
    first = eager.access_token(OTHER_ORG)
    assert eager.access_token(OTHER_ORG) != first


def test_reprs_and_messages_hide_tokens(
    app: Mock, app_key: AppKey, manager_for: Callable[..., TokenManager]
) -> None:
    store = DictStore()
    manager = manager_for(store)
    stored = manager.token(ORG)
    secrets = [stored.token.access_token, stored.token.refresh_token]
    store.failing = True
    manager.invalidate(ORG, manager.access_token(ORG))
    with pytest.raises(StoreError) as store_error:
        manager.access_token(ORG)
    store.failing = False
    app.register(APP, app_key.api_key(), [])
    manager.invalidate(ORG, manager.access_token(ORG))
    with pytest.raises(AuthorizationRequiredError) as auth_error:
        manager.access_token(ORG)
    printed = " ".join(
        [
            repr(manager),
            str(manager),
            repr(stored),
            str(stored),
            repr(store_error.value),
            str(store_error.value),
            repr(auth_error.value),
            str(auth_error.value),
            repr(memory_token_store()),
        ]
    )
    for secret in secrets:
        assert secret not in printed
    assert repr(manager) == (
        "TokenManager(client_id='py-manager-app', refresh_margin_secs=0, refresh_token_lifetime_secs=2592000)"
    )
    assert repr(stored).startswith("StoredToken(token=OrgToken(access_token='…', token_type='Bearer'")
    assert "refresh_token='…'" in repr(stored)
    assert repr(memory_token_store()) == "TokenStore(memory)"


def test_managers_in_a_thread_pool_share_a_client(app: Mock, oauth: OAuthClient) -> None:
    managers = [TokenManager(oauth, APP) for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda i: managers[i % 4].access_token(ORG), range(32)))
    assert len(set(tokens)) == 4
    assert app.counters()["get"] == 4
