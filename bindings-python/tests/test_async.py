"""AsyncTokenManager and AsyncOAuthClient under asyncio against the mock: 1,000
coroutines and one request, a loop that keeps running while a renewal takes 2 s, no
thread per waiter, cancelled waiters that still get the rotated token saved, blocking
threads and coroutines sharing one renewal, the fault matrix, uvloop and several loops."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from typing import Any, Callable

import pytest

import cobo_oauth
from cobo_oauth import (
    AsyncOAuthClient,
    AsyncTokenManager,
    OAuthClient,
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


@pytest.fixture
def expired(make_client: Callable[..., OAuthClient], mock: Mock) -> tuple[TokenManager, str]:
    """A manager whose token was just refused: the next call renews it by a refresh."""
    store = cobo_oauth.memory_token_store()
    manager = TokenManager(make_client(max_retries=0), CLIENT_ID, store, TokenManagerConfig(refresh_margin_secs=0))
    old = manager.access_token(ORG_ID)
    assert manager.invalidate(ORG_ID, old)
    mock.reset()
    return manager, old


def test_a_thousand_coroutines_share_one_renewal_and_the_loop_keeps_running(
    expired: tuple[TokenManager, str], mock: Mock
) -> None:
    manager, old = expired
    mock.fault({"kind": "delay", "delay_ms": 2000}, "refresh")
    before = os_threads()

    async def main() -> tuple[list[str], float, int]:
        async_manager = AsyncTokenManager(manager)
        callers = [asyncio.ensure_future(async_manager.access_token(ORG_ID)) for _ in range(CALLERS)]
        worst, peak = 0.0, 0
        started = time.monotonic()
        while time.monotonic() - started < 1.8:
            asked = time.monotonic()
            await asyncio.sleep(0.01)
            worst = max(worst, time.monotonic() - asked - 0.01)
            peak = max(peak, os_threads())
        return await asyncio.gather(*callers), worst, peak

    tokens, worst_lag, peak = asyncio.run(main())
    assert mock.counters()["refresh"] == 1
    assert set(tokens) == {tokens[0]} and tokens[0] != old
    assert worst_lag < 0.05, f"the loop lagged {worst_lag * 1000:.0f} ms"
    assert peak <= before + 4, f"{before} threads before, {peak} while {CALLERS} coroutines waited"


def test_a_thousand_coroutines_share_one_failure(expired: tuple[TokenManager, str], mock: Mock) -> None:
    manager, _ = expired
    mock.fault({"kind": "unsigned", "status": 503}, "refresh")

    async def main() -> list[BaseException | str]:
        async_manager = AsyncTokenManager(manager)
        return await asyncio.gather(*(async_manager.access_token(ORG_ID) for _ in range(CALLERS)), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert all(isinstance(outcome, UnavailableError) and outcome.status == 503 for outcome in outcomes), outcomes[0]
    assert mock.counters()["refresh"] + mock.counters()["get"] == 1


def test_cancelled_waiters_leave_the_rotated_token_saved(expired: tuple[TokenManager, str], mock: Mock) -> None:
    manager, old = expired
    mock.fault({"kind": "delay", "delay_ms": 500}, "refresh")

    async def main() -> None:
        async_manager = AsyncTokenManager(manager)
        callers = [asyncio.ensure_future(async_manager.access_token(ORG_ID)) for _ in range(100)]
        await asyncio.sleep(0.1)
        for caller in callers:
            caller.cancel()
        outcomes = await asyncio.gather(*callers, return_exceptions=True)
        assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)
        await asyncio.sleep(0.8)  # the renewal ends meanwhile, with nobody waiting

    asyncio.run(main())
    renewed = manager.access_token(ORG_ID)
    assert renewed != old
    assert mock.counters()["refresh"] == 1, "the next call made no request"


def test_threads_and_coroutines_share_one_renewal(expired: tuple[TokenManager, str], mock: Mock) -> None:
    manager, _ = expired
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


def test_a_fresh_token_needs_no_executor_and_no_thread(expired: tuple[TokenManager, str]) -> None:
    manager, _ = expired
    token = manager.token(ORG_ID)

    async def first_step() -> Any:
        # The coroutine's first step returns: it never awaited, so the loop never ran.
        coroutine = AsyncTokenManager(manager).token(ORG_ID)
        with pytest.raises(StopIteration) as finished:
            coroutine.send(None)
        return finished.value.value

    assert asyncio.run(first_step()) == token


def test_the_blocking_api_inside_a_coroutine_blocks_the_loop_but_never_hangs(expired: tuple[TokenManager, str]) -> None:
    """Documented: the blocking methods work from a coroutine (they block its loop while
    a renewal runs); use AsyncTokenManager there instead."""
    manager, old = expired

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
