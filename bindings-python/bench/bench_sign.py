"""CoboAuth request signing throughput: cobo_oauth against Cobo's official Python SDK
(cobo-waas2: SignHelper.generate_headers with a LocalEd25519Signer, the code its
ApiClient runs for every request) and a pure-Python PyNaCl + hashlib reference.
Every contender makes the same three header values for the same request; the ratios are
measured in this one process. Run by bindings-python/bench/run.sh.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from typing import Callable
from urllib.parse import urlencode

import cobo_oauth
from nacl.signing import SigningKey

SEED = "92e6f715e9fbf16368aa5a02e5e765b13f7d9136aacd9417fdf2e90059c98fdd"
PATH = "/v2/oauth/token"
PARAMS = {"client_id": "pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij", "org_id": "e3986401-4aec-480a-973d-e775a4518413", "grant_type": "org_implicit"}
QUERY = urlencode(PARAMS)
BODY = json.dumps(
    {"client_id": PARAMS["client_id"], "grant_type": "refresh_token", "refresh_token": "rK49jI0zt49gsttzscscik15Asmlpu1TdcxqguJJS8B9f6ilJEC0y3PbVqwsEAw5"}
)

try:
    from cobo_waas2.crypto.local_ed25519_signer import LocalEd25519Signer
    from cobo_waas2.crypto.signing_helper import SignHelper
except ImportError:  # the SDK could not be installed: compare with PyNaCl only
    SignHelper = None


def nacl_reference(key: SigningKey, method: str, query: str, body: str) -> dict[str, str]:
    nonce = str(int(time.time() * 1000))
    content = "|".join((method, PATH, nonce, query, body))
    digest = hashlib.sha256(hashlib.sha256(content.encode()).digest()).digest()
    return {
        "Biz-Api-Key": key.verify_key.encode().hex(),
        "Biz-Api-Nonce": nonce,
        "Biz-Api-Signature": key.sign(digest).signature.hex(),
    }


def best_rate(operation: Callable[[], object], seconds: float = 0.4, rounds: int = 5) -> float:
    """Operations per second, the best of `rounds` timed runs."""
    batch = 1
    while True:  # size a batch to take about `seconds`
        start = time.perf_counter()
        for _ in range(batch):
            operation()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 4:
            break
        batch *= 2
    batch = max(1, int(batch * seconds / elapsed))
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(batch):
            operation()
        best = max(best, batch / (time.perf_counter() - start))
    return best


def threaded_rate(operation: Callable[[], object], threads: int, seconds: float = 1.0) -> float:
    """Operations per second of `threads` threads running `operation` at once."""
    counts = [0] * threads
    start_line = threading.Barrier(threads + 1)
    stop = threading.Event()

    def worker(index: int) -> None:
        start_line.wait()
        done = 0
        while not stop.is_set():
            for _ in range(50):
                operation()
            done += 50
        counts[index] = done

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    start_line.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in pool:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)


def check_same_signatures(app_key: cobo_oauth.AppKey, nacl_key: SigningKey) -> None:
    nonce = "1718000000000"
    ours = app_key.sign_request_with_nonce("GET", PATH, QUERY, "", nonce).signature
    content = "|".join(("GET", PATH, nonce, QUERY, ""))
    reference = nacl_key.sign(hashlib.sha256(hashlib.sha256(content.encode()).digest()).digest()).signature.hex()
    assert ours == reference, "cobo_oauth and PyNaCl disagree"
    if SignHelper is not None:
        sdk, _ = SignHelper.sign(LocalEd25519Signer(SEED), "GET", PATH, nonce, params=PARAMS)
        assert ours == sdk, "cobo_oauth and cobo-waas2 disagree"


def main() -> None:
    app_key = cobo_oauth.AppKey(SEED)
    nacl_key = SigningKey(bytes.fromhex(SEED))
    check_same_signatures(app_key, nacl_key)
    workloads = {
        "GET  /v2/oauth/token?<query>": ("GET", QUERY, ""),
        "POST /v2/oauth/token <refresh body>": ("POST", "", BODY),
    }
    print(f"Python {sys.version.split()[0]}, cobo_oauth {cobo_oauth.__version__}")
    if SignHelper is None:
        print("cobo-waas2 is not installed: comparing with PyNaCl only")
    for name, (method, query, body) in workloads.items():
        contenders: dict[str, Callable[[], object]] = {
            "cobo_oauth": lambda: app_key.sign_request(method, PATH, query, body),
            "PyNaCl+hashlib": lambda: nacl_reference(nacl_key, method, query, body),
        }
        if SignHelper is not None:
            signer = LocalEd25519Signer(SEED)
            params = PARAMS if query else None
            body_bytes = body.encode() if body else None
            contenders["cobo-waas2 SDK"] = lambda: SignHelper.generate_headers(signer, body_bytes, method, params, PATH)
        report(name, {label: best_rate(run) for label, run in contenders.items()})
        threads = os.cpu_count() or 2
        if threads > 1:
            rates = {label: threaded_rate(run, threads) for label, run in contenders.items()}
            report(f"{name}, {threads} threads", rates)


def report(title: str, rates: dict[str, float]) -> None:
    print(f"\n{title}")
    for label, rate in rates.items():
        ratio = rates["cobo_oauth"] / rate
        note = "" if label == "cobo_oauth" else f"   cobo_oauth is {ratio:.2f}x faster"
        print(f"  {label:<16} {rate:>10,.0f} signatures/s  {1e6 / rate:6.1f} us{note}")


if __name__ == "__main__":
    main()
