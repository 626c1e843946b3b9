"""One client and one key shared by 16 threads; the GIL is released during requests."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from cobo_oauth import AppKey, OAuthClient, OrgToken
from conftest import CLIENT_ID, ORG_ID, Mock

THREADS = 16
ROUNDS = 4


def test_sixteen_threads_share_one_client(client: OAuthClient, mock: Mock) -> None:
    def session(_: int) -> list[OrgToken]:
        tokens = [client.get_org_token(CLIENT_ID, ORG_ID)]
        for _ in range(ROUNDS):
            tokens.append(client.refresh_org_token(CLIENT_ID, tokens[-1].refresh_token))
        return tokens

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(session, range(THREADS)))
    tokens = [token for chain in results for token in chain]
    assert len({t.access_token for t in tokens}) == len(tokens) == THREADS * (ROUNDS + 1)
    assert len({t.refresh_token for t in tokens}) == len(tokens)
    counters = mock.counters()
    assert (counters["get"], counters["refresh"], counters["rejected"]) == (THREADS, THREADS * ROUNDS, 0)


def test_sixteen_threads_share_one_key(app_key: AppKey) -> None:
    def sign(_: int) -> list[int]:
        return [int(app_key.sign_request("GET", "/v2/oauth/token").nonce) for _ in range(500)]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(sign, range(THREADS)))
    for nonces in results:
        assert nonces == sorted(nonces) and len(set(nonces)) == len(nonces)
    everything = [n for nonces in results for n in nonces]
    assert len(set(everything)) == len(everything), "a nonce was handed out twice"


def test_requests_release_the_gil(make_client: Callable[..., OAuthClient], mock: Mock) -> None:
    client = make_client(max_retries=0)
    mock.fault({"kind": "delay", "delay_ms": 600}, "get")
    done = threading.Event()

    def slow_request() -> None:
        client.get_org_token(CLIENT_ID, ORG_ID)
        done.set()

    worker = threading.Thread(target=slow_request)
    started = time.monotonic()
    worker.start()
    ticks = 0
    while not done.is_set() and time.monotonic() - started < 5:
        ticks += 1  # pure Python work: runs only while the worker does not hold the GIL
        time.sleep(0.001)
    worker.join()
    assert done.is_set()
    assert time.monotonic() - started >= 0.5
    assert ticks > 50, f"the main thread ran only {ticks} times during a 600 ms request"
