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
    """While a request waits on the mock (3 s: a deadline, not a speed), the main thread
    runs Python code: it could not if the waiting thread held the GIL."""
    client = make_client(max_retries=0)
    mock.fault({"kind": "delay", "delay_ms": 3000}, "get")
    done = threading.Event()

    def slow_request() -> None:
        client.get_org_token(CLIENT_ID, ORG_ID)
        done.set()

    worker = threading.Thread(target=slow_request)
    worker.start()
    ran = 0
    while not done.is_set() and (mock.counters()["get"] < 1 or ran < 50):  # pure Python work meanwhile
        ran += 1
        time.sleep(0.001)
    in_flight = not done.is_set()
    worker.join()
    assert done.is_set()
    assert in_flight, f"the main thread ran {ran} times only once the request had ended"
