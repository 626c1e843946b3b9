"""AsyncTokenManager and AsyncOAuthClient under asyncio against the mock: 1,000
coroutines and one request, a loop that keeps running while a renewal takes 2 s, no
thread per waiter, cancelled waiters that still get the rotated token saved, blocking
threads and coroutines sharing one renewal, the fault matrix, uvloop and several loops."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import importlib.util
import os
import threading
import time
import warnings
import weakref
from typing import Any, Callable, NamedTuple

import pytest

import cobo_oauth
from cobo_oauth import (
    AsyncOAuthClient,
    AsyncTokenManager,
    OAuthClient,
    OrgToken,
    TokenManager,
    TokenManagerConfig,
    UnavailableError,
)
from conftest import CLIENT_ID, ORG_ID, VARIANT_CLASSES, Mock, load_json

CALLERS = 1000


def os_threads() -> int:
    """Every thread of the process, the core's included (threading sees only Python's)."""
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))


DEADLINE = 60  # seconds: reached only when something is stuck, never by a slow machine


async def until(what: str, done: Callable[[], bool]) -> int:
    """Lets the loop run until `done()`; returns how many times it ran meanwhile."""
    ticks, deadline = 0, time.monotonic() + DEADLINE
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
        ticks += 1
    return ticks


class HeldStore:
    """A memory store whose saves wait until `release` is set: the renewal that saves is
    held in flight for as long as a test needs. A watchdog releases it after DEADLINE, so
    a loop stuck behind the renewal fails the test instead of hanging it."""

    def __init__(self) -> None:
        self.inner = cobo_oauth.memory_token_store()
        self.saving, self.release = threading.Event(), threading.Event()
        self.hold = False

    def load(self, org_id: str) -> Any:
        return self.inner.load(org_id)

    def save(self, org_id: str, token: Any) -> None:
        if self.hold:
            self.saving.set()
            self.release.wait(DEADLINE)
        self.inner.save(org_id, token)

    def delete(self, org_id: str) -> None:
        self.inner.delete(org_id)


class Expired(NamedTuple):
    manager: TokenManager
    old: str  # the refused access token
    store: HeldStore


@pytest.fixture
def expired(make_client: Callable[..., OAuthClient], mock: Mock) -> Expired:
    """A manager whose token was just refused: the next call renews it by a refresh."""
    store = HeldStore()
    manager = TokenManager(make_client(max_retries=0), CLIENT_ID, store, TokenManagerConfig(refresh_margin_secs=0))
    old = manager.access_token(ORG_ID)
    assert manager.invalidate(ORG_ID, old)
    mock.reset()
    return Expired(manager, old, store)


def test_a_thousand_coroutines_share_one_renewal_and_the_loop_keeps_running(expired: Expired, mock: Mock) -> None:
    """While the renewal is held (in its save), the loop keeps running with 1,000
    coroutines waiting, and the process has nowhere near a thread per waiter."""
    manager, old, store = expired
    store.hold = True
    before = os_threads()

    async def main() -> tuple[list[str], int]:
        async_manager = AsyncTokenManager(manager)
        callers = [asyncio.ensure_future(async_manager.access_token(ORG_ID)) for _ in range(CALLERS)]
        # The loop runs (this coroutine polls) while the renewal is held in its save.
        await until("the renewal's save", store.saving.is_set)
        waiting, threads = sum(not caller.done() for caller in callers), os_threads()
        store.release.set()
        tokens = await asyncio.gather(*callers)
        assert waiting == CALLERS, f"{CALLERS - waiting} callers did not wait for the held renewal"
        return tokens, threads

    tokens, threads = asyncio.run(main())
    assert mock.counters()["refresh"] == 1
    assert set(tokens) == {tokens[0]} and tokens[0] != old
    assert threads - before < CALLERS // 10, f"{before} threads before, {threads} while {CALLERS} coroutines waited"


def test_a_thousand_coroutines_share_one_failure(expired: Expired, mock: Mock) -> None:
    manager, _, _ = expired
    mock.fault({"kind": "unsigned", "status": 503}, "refresh")

    async def main() -> list[BaseException | str]:
        async_manager = AsyncTokenManager(manager)
        return await asyncio.gather(*(async_manager.access_token(ORG_ID) for _ in range(CALLERS)), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert all(isinstance(outcome, UnavailableError) and outcome.status == 503 for outcome in outcomes), outcomes[0]
    assert mock.counters()["refresh"] + mock.counters()["get"] == 1


def test_cancelled_waiters_leave_the_rotated_token_saved(expired: Expired, mock: Mock) -> None:
    manager, old, store = expired
    store.hold = True

    async def main() -> None:
        async_manager = AsyncTokenManager(manager)
        callers = [asyncio.ensure_future(async_manager.access_token(ORG_ID)) for _ in range(100)]
        await until("the renewal's save", store.saving.is_set)
        for caller in callers:
            caller.cancel()
        outcomes = await asyncio.gather(*callers, return_exceptions=True)
        assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)

    asyncio.run(main())  # every waiter gone, the renewal still held
    store.release.set()
    renewed = manager.access_token(ORG_ID)  # waits for that renewal to end
    saved = store.load(ORG_ID)
    assert renewed != old and saved is not None and saved.token.access_token == renewed
    assert mock.counters()["refresh"] == 1, "the next call made no request"


def test_threads_and_coroutines_share_one_renewal(expired: Expired, mock: Mock) -> None:
    manager, _, _ = expired
    mock.fault({"kind": "delay", "delay_ms": 300}, "refresh")
    from_threads: list[str] = []
    threads = [threading.Thread(target=lambda: from_threads.append(manager.access_token(ORG_ID))) for _ in range(16)]
    for thread in threads:
        thread.start()

    async def main() -> list[str]:
        async_manager = AsyncTokenManager(manager)
        return await asyncio.gather(*(async_manager.access_token(ORG_ID) for _ in range(16)))

    from_tasks = asyncio.run(main())
    for thread in threads:
        thread.join()
    assert set(from_threads) | set(from_tasks) == {from_tasks[0]}
    assert mock.counters()["refresh"] == 1


def test_loops_in_several_threads_and_uvloop(make_client: Callable[..., OAuthClient], mock: Mock) -> None:
    manager = TokenManager(make_client(), CLIENT_ID)
    async_manager = AsyncTokenManager(manager)
    results: list[str] = []

    def run_loop() -> None:
        results.append(asyncio.run(async_manager.authorization_header(ORG_ID)))

    threads = [threading.Thread(target=run_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and set(results) == {f"Bearer {manager.access_token(ORG_ID)}"}
    assert mock.counters()["get"] == 1
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop  # type: ignore[import-not-found]

        assert uvloop.run(async_manager.access_token(ORG_ID)) == manager.access_token(ORG_ID)


def test_a_fresh_token_needs_no_executor_and_no_thread(expired: Expired) -> None:
    manager, _, _ = expired
    token = manager.token(ORG_ID)

    async def first_step() -> Any:
        # The coroutine's first step returns: it never awaited, so the loop never ran.
        coroutine = AsyncTokenManager(manager).token(ORG_ID)
        with pytest.raises(StopIteration) as finished:
            coroutine.send(None)
        return finished.value.value

    assert asyncio.run(first_step()) == token


def test_a_cached_access_token_is_one_call_and_a_miss_takes_the_renewal_path(
    expired: Expired, mock: Mock
) -> None:
    manager, old, _ = expired
    async_manager = AsyncTokenManager(manager)
    assert async_manager.cached_access_token(ORG_ID) is None, "invalidated: not served as it is"
    renewed = asyncio.run(async_manager.access_token(ORG_ID))
    assert renewed != old and mock.counters()["refresh"] == 1
    assert async_manager.cached_access_token(ORG_ID) == renewed == manager.access_token(ORG_ID)
    assert async_manager.cached_access_token("another-org") is None
    # The cached answer's coroutine finishes in its first step, like the whole token's.
    coroutine = async_manager.access_token(ORG_ID)
    with pytest.raises(StopIteration) as finished:
        coroutine.send(None)
    assert finished.value.value == renewed
    assert mock.counters()["refresh"] == 1


def test_the_blocking_api_inside_a_coroutine_blocks_the_loop_but_never_hangs(expired: Expired) -> None:
    """Documented: the blocking methods work from a coroutine (they block its loop while
    a renewal runs); use AsyncTokenManager there instead."""
    manager, old, _ = expired

    async def main() -> str:
        return manager.access_token(ORG_ID)

    assert asyncio.run(main()) != old


@pytest.mark.parametrize("entry", load_json("tests/faults.json"), ids=lambda entry: entry["name"])
def test_fault_matrix_through_the_async_client(entry: dict[str, Any], mock: Mock, make_client: Callable[..., OAuthClient]) -> None:
    client = AsyncOAuthClient(make_client(**entry.get("client", {})))

    async def main() -> BaseException:
        if entry["operation"] == "get":
            mock.fault(entry["fault"], "get")
            return await failing(client.get_org_token(CLIENT_ID, ORG_ID))
        token = await client.get_org_token(CLIENT_ID, ORG_ID)
        mock.fault(entry["fault"], "refresh")
        return await failing(client.refresh_org_token(CLIENT_ID, token.refresh_token))

    error = asyncio.run(main())
    expect = entry["expect"]
    assert type(error) is VARIANT_CLASSES[expect["variant"]], error
    for field, value in expect.items():
        if field != "variant":
            assert getattr(error, field) == value, field


async def failing(call: Any) -> BaseException:
    try:
        await call
    except cobo_oauth.CoboOAuthError as error:
        return error
    raise AssertionError("the call succeeded")


def test_async_manager_errors_are_the_blocking_ones(make_client: Callable[..., OAuthClient]) -> None:
    manager = AsyncTokenManager(TokenManager(make_client(), CLIENT_ID))
    with pytest.raises(cobo_oauth.InvalidArgumentError):
        asyncio.run(manager.access_token(" "))
    with pytest.raises(cobo_oauth.AuthorizationRequiredError):
        asyncio.run(manager.access_token("org-that-never-installed"))
    assert "AsyncTokenManager(TokenManager(" in repr(manager)


# --- AsyncOAuthClient: each call on the core's I/O thread ---------------------------------


def threads_now() -> int:
    """The threads of this process (the mock is another process)."""
    return len(os.listdir("/proc/self/task"))


def recording_loop_errors(loop: asyncio.AbstractEventLoop) -> list[dict[str, Any]]:
    """What the loop reports to its exception handler ("Future exception was never
    retrieved", "Exception in callback", ...), recorded instead of logged."""
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    return reported


def test_async_client_tokens_are_the_blocking_ones(client: OAuthClient, mock: Mock) -> None:
    async_client = AsyncOAuthClient(client)

    async def main() -> tuple[OrgToken, OrgToken]:
        token = await async_client.get_org_token(CLIENT_ID, ORG_ID)
        return token, await async_client.refresh_org_token(CLIENT_ID, token.refresh_token)

    got, refreshed = asyncio.run(main())
    blocking = client.get_org_token(CLIENT_ID, ORG_ID)
    for token in (got, refreshed):
        assert type(token) is OrgToken and token.token_type == blocking.token_type == "Bearer"
        assert token.expires_in == blocking.expires_in and token.scope == blocking.scope
        assert len({token.access_token, token.refresh_token, blocking.access_token}) == 3
    assert refreshed.access_token != got.access_token
    assert (mock.counters()["get"], mock.counters()["refresh"]) == (2, 1)
    assert "AsyncOAuthClient(OAuthClient(" in repr(async_client)


def test_async_client_errors_are_the_blocking_ones(client: OAuthClient, mock: Mock) -> None:
    async_client = AsyncOAuthClient(client)
    calls: list[tuple[str, str, str]] = [
        ("get", CLIENT_ID, "org-that-never-installed"),
        ("get", " ", ORG_ID),
        ("refresh", CLIENT_ID, "not-a-refresh-token"),
        ("refresh", CLIENT_ID, ""),
    ]
    for operation, client_id, argument in calls:
        blocking_call = client.get_org_token if operation == "get" else client.refresh_org_token
        with pytest.raises(cobo_oauth.CoboOAuthError) as blocking:
            blocking_call(client_id, argument)
        async_call = async_client.get_org_token if operation == "get" else async_client.refresh_org_token
        with pytest.raises(cobo_oauth.CoboOAuthError) as asynchronous:
            asyncio.run(async_call(client_id, argument))
        assert type(asynchronous.value) is type(blocking.value), (operation, argument)
        assert str(asynchronous.value) == str(blocking.value)
        assert "not-a-refresh-token" not in str(asynchronous.value) + repr(asynchronous.value)


@pytest.mark.parametrize("outcome", ["token", "error"])
def test_a_cancelled_async_client_call_ends_quietly(make_client: Callable[..., OAuthClient], mock: Mock, outcome: str) -> None:
    """The call still ends on its thread; its late outcome (a token, or a Timeout) is
    dropped: no warning, no exception left unretrieved, and the loop keeps working."""
    client = make_client(max_retries=0, timeout_ms=300 if outcome == "error" else 10_000)
    async_client = AsyncOAuthClient(client)
    mock.fault({"kind": "delay", "delay_ms": 600 if outcome == "error" else 300}, "get")

    async def main() -> tuple[list[dict[str, Any]], str]:
        reported = recording_loop_errors(asyncio.get_running_loop())
        call = asyncio.ensure_future(async_client.get_org_token(CLIENT_ID, ORG_ID))
        await until("the call to reach the mock", lambda: mock.counters()["get"] == 1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        # The call ends meanwhile, with nobody waiting (on a slow machine perhaps later:
        # then this checks less, it does not fail).
        await asyncio.sleep(0.5)
        gc.collect()
        token = await async_client.get_org_token(CLIENT_ID, ORG_ID)
        return reported, token.token_type

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reported, token_type = asyncio.run(main())
    assert reported == [] and token_type == "Bearer"
    assert mock.counters()["get"] == 2


def test_async_client_calls_resume_each_task_in_its_own_context(client: OAuthClient, mock: Mock) -> None:
    """A task keeps its context variables (a request id, a tracing span) across the
    await, as with an asyncio future: the call's outcome wakes each task in its own."""
    async_client = AsyncOAuthClient(client)
    request_id: contextvars.ContextVar[int] = contextvars.ContextVar("request_id")

    async def handler(n: int) -> tuple[int, int]:
        request_id.set(n)
        await async_client.get_org_token(CLIENT_ID, ORG_ID)
        return n, request_id.get(-1)

    async def main() -> list[tuple[int, int]]:
        return await asyncio.gather(*(handler(n) for n in range(20)))

    assert asyncio.run(main()) == [(n, n) for n in range(20)]
    assert mock.counters()["get"] == 20


def test_async_client_calls_from_loops_in_two_threads(client: OAuthClient, mock: Mock) -> None:
    async_client = AsyncOAuthClient(client)
    results: list[list[str]] = []

    async def calls() -> list[str]:
        tokens = await asyncio.gather(*(async_client.get_org_token(CLIENT_ID, ORG_ID) for _ in range(10)))
        return [token.token_type for token in tokens]

    threads = [threading.Thread(target=lambda: results.append(asyncio.run(calls()))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [["Bearer"] * 10] * 2
    assert mock.counters()["get"] == 20


def test_async_client_calls_on_a_loop_without_add_reader_and_on_uvloop(client: OAuthClient, mock: Mock) -> None:
    """A loop that cannot watch the outcomes' socket (Windows' proactor) is woken by the
    I/O thread instead; uvloop (installed by scripts/test.sh) watches it as asyncio's
    selector loop does."""
    async_client = AsyncOAuthClient(client)

    async def calls() -> list[str]:
        tokens = await asyncio.gather(*(async_client.get_org_token(CLIENT_ID, ORG_ID) for _ in range(10)))
        return [token.token_type for token in tokens]

    class NoReaders(asyncio.SelectorEventLoop):
        def add_reader(self, *args: Any) -> None:
            raise NotImplementedError

    loop = NoReaders()
    try:
        assert loop.run_until_complete(calls()) == ["Bearer"] * 10
    finally:
        loop.close()
    assert mock.counters()["get"] == 10
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop  # type: ignore[import-not-found]

        assert uvloop.run(calls()) == ["Bearer"] * 10
        assert mock.counters()["get"] == 20


def test_async_client_calls_start_no_thread_and_end_on_the_loop(mock: Mock) -> None:
    """50 calls in turn, then 200 at once, twice: the process gains no thread per call
    (the core's I/O thread makes every call), each awaiting coroutine resumes on the
    loop's own thread (the I/O thread never takes the GIL), and the loop keeps turning
    while the calls are out. How fast is the bench's business."""
    # A key of its own: 450 calls in a second run its nonces ahead of the clock, and a
    # process signing with the same key next (the README tests) would draw used ones.
    key = cobo_oauth.AppKey.generate()
    mock.register("py-async-waves-app", key.api_key(), [ORG_ID])
    async_client = AsyncOAuthClient(OAuthClient(key, mock.config_for()))
    calls = 200
    resumed_on: list[int] = []  # the native id of the thread each awaiting coroutine resumed on

    async def call() -> OrgToken:
        token = await async_client.get_org_token("py-async-waves-app", ORG_ID)
        resumed_on.append(threading.get_native_id())
        return token

    async def one_after_another() -> None:
        for _ in range(50):
            await call()

    async def wave() -> int:
        started = [asyncio.ensure_future(call()) for _ in range(calls)]
        most = 0

        def all_done() -> bool:
            nonlocal most
            most = max(most, threads_now())
            return all(task.done() for task in started)

        await until("a wave of calls", all_done)
        assert {token.token_type for token in await asyncio.gather(*started)} == {"Bearer"}
        return most

    asyncio.run(call())  # the I/O thread is up
    before = threads_now()
    asyncio.run(one_after_another())
    results = [asyncio.run(wave()) for _ in range(2)]
    assert mock.counters()["get"] == 1 + 50 + 2 * calls
    assert resumed_on == [threading.get_native_id()] * (1 + 50 + 2 * calls)
    assert max(results) - before < calls // 10, f"{before} threads before, {max(results)} during {calls} calls at once"


def test_a_finished_loop_is_released_with_its_completions(expired: Expired, client: OAuthClient) -> None:
    """Each loop's completions (a socket pair) live as long as the loop, not longer:
    every `asyncio.run` of an app's tests or scripts would otherwise keep one."""
    manager, _, _ = expired
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def calls() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        await AsyncOAuthClient(client).get_org_token(CLIENT_ID, ORG_ID)
        await AsyncTokenManager(manager).token(ORG_ID)

    for _ in range(3):
        asyncio.run(calls())
    gc.collect()
    assert [loop() for loop in loops] == [None] * 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
def test_async_client_works_in_a_forked_child(mock: Mock) -> None:
    # A key of its own: parent and child continue the same nonce sequence, which must
    # not reach the mock from the session's key (a replay the next test would see).
    key = cobo_oauth.AppKey.generate()
    mock.register("py-async-fork-app", key.api_key(), [ORG_ID])
    async_client = AsyncOAuthClient(OAuthClient(key, mock.config_for()))
    asyncio.run(async_client.get_org_token("py-async-fork-app", ORG_ID))  # the parent's pool thread is live
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, never return into pytest
        try:
            call = async_client.get_org_token("py-async-fork-app", ORG_ID)
            token = asyncio.run(asyncio.wait_for(call, 10))
            os.write(write_end, token.token_type.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as child:
        reported = child.read()
    os.waitpid(pid, 0)
    assert reported == b"Bearer"
    assert mock.counters()["get"] == 2
