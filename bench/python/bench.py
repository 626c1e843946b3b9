"""Python: cobo_oauth (our wheel) against Cobo's official SDK, cobo-waas2, in one process
and one run. Part of `make bench` (bench/run.sh), which installs both into target/bench/venv.

- import time and resident memory of `import cobo_oauth` vs `import cobo_waas2`, each in
  fresh interpreters, with `import json`'s time as the reference;
- request signing: AppKey.sign_request vs SignHelper.generate_headers (what the SDK's
  ApiClient runs for every request), same request;
- get_token round trips against the shared mock server, both verifying the response
  signature, sequential and from 8 threads, with p50/p99 latency;
- a protected WaaS GET through each of our HTTP hooks (requests, httpx, httpx async, and
  cobo_waas2 with our token) vs the SDK's generated `WalletsApi.list_wallets`;
- TokenManager.access_token on a fresh cached token, when the binding has it, and the
  asyncio forms (AsyncTokenManager.access_token, AsyncOAuthClient.get_org_token) against
  their blocking counterparts.

Every figure: a warm-up, then REPS timed repetitions, the two sides of a comparison
taking turns (so that a change in the machine's load hits both alike); the report gives
the median, the quartiles and the extremes.

Usage: bench.py --mock target/release/cobo-oauth-mock --json target/bench/python.json
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from importlib.metadata import version
from typing import Any, Awaitable, Callable, Optional

import cobo_oauth

REPS = 7
ROUND_TRIP_REPS = 21  # the async/sync round trips: their goal (within 10%) is finer than 7 turns resolve
REP_TIME = 0.3  # seconds per repetition
WARMUP = 0.5
THREADS = 8
IMPORT_REPS = 5
ORG = "bench-org"
PATH = "/v2/oauth/token"
PARAMS = {"client_id": "pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij", "org_id": "e3986401-4aec-480a-973d-e775a4518413",
          "grant_type": "org_implicit"}
QUERY = "&".join(f"{k}={v}" for k, v in PARAMS.items())  # nothing to escape: what urlencode gives
# The SDK's nonce is the wall-clock millisecond and the mock refuses a reused nonce per key:
# each SDK thread rotates through keys of its own.
SDK_KEYS_PER_THREAD = 4


class Figure:
    def __init__(self, id: str, label: str, values: list[float], unit: str = "ops/s",
                 latencies_ns: Optional[list[int]] = None, **extra: Any) -> None:
        self.id, self.label, self.values, self.unit = id, label, values, unit
        self.latencies_ns = latencies_ns or []
        self.extra = extra

    def json(self) -> dict[str, Any]:
        values = sorted(self.values)
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        doc: dict[str, Any] = {"id": self.id, "label": self.label, "unit": self.unit, "reps": len(values),
                               "median": median, "q1": q1, "q3": q3, "min": values[0], "max": values[-1]}
        if self.unit == "ops/s":
            doc["ns_per_op"] = 1e9 / median
        if self.latencies_ns:
            latencies = sorted(self.latencies_ns)
            doc["p50_us"] = latencies[len(latencies) // 2] / 1e3
            doc["p99_us"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1e3
        doc.update(self.extra)
        return doc

    def print(self) -> None:
        doc = self.json()
        line = f"  {self.label:<46} {doc['median']:>12,.1f} {self.unit:<5} [{doc['q1']:,.1f}–{doc['q3']:,.1f}]"
        if "p50_us" in doc:
            line += f"  p50 {doc['p50_us']:,.0f} us  p99 {doc['p99_us']:,.0f} us"
        print(line, flush=True)


Run = Callable[[float], "tuple[float, list[int]]"]  # one repetition of `duration` s -> (ops/s, latencies in ns)


def back_to_back(operation: Callable[[], object]) -> Run:
    """`operation` in a loop, untimed per call (for operations of microseconds)."""
    def run(duration: float) -> tuple[float, list[int]]:
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < duration:
            for _ in range(16):
                operation()
            calls += 16
        return calls / elapsed, []
    return run


def in_a_loop(operation: Callable[[], Awaitable[object]]) -> Run:
    """`await operation()` in a loop inside one asyncio event loop."""
    def run(duration: float) -> tuple[float, list[int]]:
        async def calls_per_second() -> float:
            calls, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < duration:
                for _ in range(16):
                    await operation()
                calls += 16
            return calls / elapsed
        return asyncio.run(calls_per_second()), []
    return run


def threaded(threads: int, make_operation: Callable[[int], Callable[[], object]]) -> Run:
    """`threads` threads at once, each running its own operation (from make_operation(thread
    index)) in a loop, with every call's latency."""
    operations = [make_operation(i) for i in range(threads)]

    def run(duration: float) -> tuple[float, list[int]]:
        start_line = threading.Barrier(threads + 1)
        latencies: list[list[int]] = [[] for _ in range(threads)]
        failures: list[BaseException] = []

        def worker(index: int) -> None:
            operation, mine, clock = operations[index], latencies[index], time.perf_counter_ns
            start_line.wait()
            deadline = clock() + int(duration * 1e9)
            try:
                while (began := clock()) < deadline:
                    operation()
                    mine.append(clock() - began)
            except BaseException as failure:  # noqa: BLE001 - re-raised below
                failures.append(failure)

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for thread in pool:
            thread.start()
        start_line.wait()
        start = time.perf_counter()
        for thread in pool:
            thread.join()
        elapsed = time.perf_counter() - start
        if failures:
            raise RuntimeError(f"{len(failures)} of {threads} threads failed") from failures[0]
        return sum(map(len, latencies)) / elapsed, list(itertools.chain.from_iterable(latencies))
    return run


def measure(*contenders: tuple[str, str, Run], reps: int = REPS) -> list[Figure]:
    """Each contender (id, label, run) warmed up, then `reps` repetitions of each, taken in
    turns (A B A B ...) so that a change in the machine's load hits all of them alike."""
    for _, _, run in contenders:
        run(WARMUP)
    rates: dict[str, list[float]] = {id: [] for id, _, _ in contenders}
    latencies: dict[str, list[int]] = {id: [] for id, _, _ in contenders}
    for _ in range(reps):
        for id, _, run in contenders:
            r, l = run(REP_TIME)
            rates[id].append(r)
            latencies[id].extend(l)
    return [Figure(id, label, rates[id], latencies_ns=latencies[id]) for id, label, _ in contenders]


IMPORT_PROBE = """
import time
start = time.perf_counter()
{statement}
elapsed = time.perf_counter() - start
rss_kb = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmRSS:"))
print(elapsed * 1e3, int(rss_kb) / 1024)
"""


def import_costs(*modules: Optional[str]) -> dict[Optional[str], tuple[list[float], list[float]]]:
    """Per module, (import time in ms, resident memory in MB after it) of fresh interpreters
    importing it (None: importing nothing): one warm-up run each, then IMPORT_REPS rounds
    in which each module takes its turn."""
    costs: dict[Optional[str], tuple[list[float], list[float]]] = {module: ([], []) for module in modules}
    with tempfile.TemporaryDirectory() as cwd:  # so that no source tree shadows the package
        for round in range(IMPORT_REPS + 1):
            for module in modules:
                code = IMPORT_PROBE.format(statement=f"import {module}" if module else "pass")
                out = subprocess.run([sys.executable, "-c", code], cwd=cwd, check=True, capture_output=True,
                                     text=True, stdin=subprocess.DEVNULL).stdout.split()
                if round:
                    costs[module][0].append(float(out[0]))
                    costs[module][1].append(float(out[1]))
    return costs


class MockServer:
    def __init__(self, binary: str) -> None:
        self.process = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        assert self.process.stdout is not None
        info = json.loads(self.process.stdout.readline())
        self.base_url, self.control_url = info["base_url"], info["control_url"]
        self.response_public_key: str = info["response_public_key"]

    def register(self, client_id: str, api_key: str) -> None:
        body = json.dumps({"client_id": client_id, "api_key": api_key, "orgs": [ORG]}).encode()
        urllib.request.urlopen(urllib.request.Request(self.control_url + "/apps", body, method="POST")).read()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


def protected_gets(mock: "MockServer", sdk_configuration: Callable[[str], Any]) -> list[tuple[str, str, Run]]:
    """A protected WaaS GET (`/v2/wallets?limit=10`, signed, its answer verified) through
    each of our hooks, with a TokenManager's cached token; against the SDK's generated
    call (`WalletsApi.list_wallets`) given the org's token once as a default header (the
    SDK sends none of its own), and through `org_api_client` (the SDK with our manager).
    Both SDK clients wait for the next millisecond between calls, as the SDK's wall-clock
    nonce needs."""
    import httpx
    import requests
    from cobo_waas2 import ApiClient, WalletsApi
    from cobo_waas2.api.o_auth_api import OAuthApi
    from cobo_waas2.crypto.local_ed25519_signer import LocalEd25519Signer

    from cobo_oauth.httpx_auth import CoboHttpxAuth
    from cobo_oauth.requests_auth import CoboRequestsAuth
    from cobo_oauth.waas2 import org_api_client

    config = cobo_oauth.ClientConfig(base_url=mock.base_url, response_public_key=mock.response_public_key)
    verifier = cobo_oauth.ResponseVerifier.with_key(mock.response_public_key)
    key = cobo_oauth.AppKey.generate()
    mock.register("ours-hooks", key.api_key())
    manager = cobo_oauth.TokenManager(cobo_oauth.OAuthClient(key, config), "ours-hooks")
    manager.access_token(ORG)
    url, params = mock.base_url + "/wallets", {"limit": 10}
    session = requests.Session()
    session.auth = CoboRequestsAuth(key, manager, ORG, verifier)
    sync_http = httpx.Client(auth=CoboHttpxAuth(key, manager, ORG, verifier))
    async_auth = CoboHttpxAuth(key, manager, ORG, verifier)
    async_clients: dict[Any, httpx.AsyncClient] = {}  # one per event loop: each repetition runs its own

    def ok(response: Any) -> Any:
        if response.status_code != 200:
            raise RuntimeError(f"protected GET: HTTP {response.status_code}")
        return response

    async def async_get() -> object:
        loop = asyncio.get_running_loop()
        if loop not in async_clients:
            async_clients.clear()
            async_clients[loop] = httpx.AsyncClient(auth=async_auth)
        return ok(await async_clients[loop].get(url, params=params))

    private_key, api_key = LocalEd25519Signer.generate_key_pair()
    mock.register("sdk-wallets", api_key)
    api_client = ApiClient(sdk_configuration(private_key))
    sdk_token = OAuthApi(api_client).get_token("sdk-wallets", ORG, "org_implicit").access_token
    api_client.set_default_header("Authorization", f"Bearer {sdk_token}")
    sdk_manager = cobo_oauth.TokenManager(cobo_oauth.OAuthClient(cobo_oauth.AppKey(private_key), config), "sdk-wallets")
    sdk_manager.access_token(ORG)
    last_ms = [0]  # one SDK key for both SDK clients: one millisecond each

    def listing(api: Any) -> Callable[[], object]:
        def call() -> object:
            while int(time.time() * 1000) <= last_ms[0]:
                pass
            result = api.list_wallets(limit=10)
            last_ms[0] = int(time.time() * 1000)
            return result
        return call

    return [
        ("python.waas_get.requests", "protected GET: CoboRequestsAuth (requests.Session)",
         back_to_back(lambda: ok(session.get(url, params=params)))),
        ("python.waas_get.httpx", "protected GET: CoboHttpxAuth (httpx.Client)",
         back_to_back(lambda: ok(sync_http.get(url, params=params)))),
        ("python.waas_get.httpx_async", "protected GET: CoboHttpxAuth (httpx.AsyncClient)", in_a_loop(async_get)),
        ("python.waas_get.waas2", "protected GET: org_api_client (cobo_waas2 with a TokenManager)",
         back_to_back(listing(WalletsApi(org_api_client(sdk_configuration(private_key), sdk_manager, ORG))))),
        ("python.waas_get.official", "protected GET: WalletsApi.list_wallets (cobo_waas2)",
         back_to_back(listing(WalletsApi(api_client)))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mock", required=True)
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    figures: list[Figure] = []

    def add(figure: Figure) -> None:
        figures.append(figure)
        figure.print()

    sdk_version = version("cobo-waas2")
    print(f"Python {platform.python_version()}: cobo_oauth {cobo_oauth.__version__} vs cobo-waas2 {sdk_version}; "
          f"median of {REPS} (async/sync round trips: {ROUND_TRIP_REPS}) x {REP_TIME * 1e3:.0f} ms after {WARMUP * 1e3:.0f} ms warm-up [quartiles], "
          f"the two sides' repetitions in turns", flush=True)

    # `import json` is the reference: a stdlib package of a few modules, measured in the
    # same rounds, so the ratio holds across machines and loads.
    costs = import_costs(None, "json", "cobo_oauth", "cobo_waas2")
    bare_rss = statistics.median(costs[None][1])
    for label, module in (("reference", "json"), ("ours", "cobo_oauth"), ("official", "cobo_waas2")):
        ms, rss = costs[module]
        add(Figure(f"python.import_time.{label}", f"import {module}", ms, unit="ms"))
        if label != "reference":
            add(Figure(f"python.import_rss.{label}", f"import {module}: RSS above a bare interpreter",
                       [r - bare_rss for r in rss], unit="MB", bare_interpreter_mb=bare_rss))
    print("  import cobo_oauth: {:.1f}x the time of import json".format(
        statistics.median(costs["cobo_oauth"][0]) / statistics.median(costs["json"][0])), flush=True)

    from cobo_waas2 import ApiClient, Configuration
    from cobo_waas2.api.o_auth_api import OAuthApi
    from cobo_waas2.crypto.local_ed25519_signer import LocalEd25519Signer
    from cobo_waas2.crypto.signing_helper import SignHelper

    signing_key = cobo_oauth.AppKey.generate()  # signs only: its nonces run ahead of the clock
    sdk_signer = LocalEd25519Signer(signing_key.private_key_hex())
    for figure in measure(
        ("python.sign.ours", "sign: AppKey.sign_request",
         back_to_back(lambda: signing_key.sign_request("GET", PATH, QUERY, ""))),
        ("python.sign.official", "sign: SignHelper.generate_headers",
         back_to_back(lambda: SignHelper.generate_headers(sdk_signer, b"", "GET", PARAMS, PATH))),
    ):
        add(figure)

    mock = MockServer(args.mock)
    try:
        class MockConfiguration(Configuration):  # the SDK knows the response keys of Cobo's hosts only
            @property
            def resp_pubkey(self) -> str:
                return mock.response_public_key

        def ours(client_id: str) -> cobo_oauth.OAuthClient:
            """A client with a fresh key of its own: above 1000 requests/s a key's nonces
            run ahead of the clock, and the mock's window is 60 s."""
            key = cobo_oauth.AppKey.generate()
            mock.register(client_id, key.api_key())
            config = cobo_oauth.ClientConfig(base_url=mock.base_url, response_public_key=mock.response_public_key)
            return cobo_oauth.OAuthClient(key, config)

        def official(client_id: str) -> OAuthApi:
            private_key, api_key = LocalEd25519Signer.generate_key_pair()
            mock.register(client_id, api_key)
            return OAuthApi(ApiClient(MockConfiguration(api_private_key=private_key, host=mock.base_url)))

        def official_round_robin(thread: int, keys: int = SDK_KEYS_PER_THREAD) -> Callable[[], object]:
            """get_token through SDK clients of this thread's own keys, taking a key only
            once the clock has moved past the millisecond of its last request (the SDK's
            nonce is the wall-clock millisecond; the mock refuses a reused one)."""
            clients = [(f"sdk-{thread}-{k}", official(f"sdk-{thread}-{k}")) for k in range(keys)]
            last_ms = [0] * keys
            turn = itertools.cycle(range(keys))

            def get_token() -> object:
                k = next(turn)
                while int(time.time() * 1000) <= last_ms[k]:
                    pass
                client_id, api = clients[k]
                token = api.get_token(client_id, ORG, "org_implicit")
                last_ms[k] = int(time.time() * 1000)
                return token
            return get_token

        client = ours("ours-seq")
        assert client.get_org_token("ours-seq", ORG).token_type == "Bearer"
        check = official_round_robin(THREADS)
        assert check().token_type == "Bearer"  # type: ignore[attr-defined]
        # The async form in turns with the blocking one and the SDK's, as every figure of a
        # measure() call: a change in the machine's load hits them alike.
        async_client = cobo_oauth.AsyncOAuthClient(client) if hasattr(cobo_oauth, "AsyncOAuthClient") else None
        for figure in measure(
            ("python.get_token.ours", "get_token round trip: OAuthClient",
             threaded(1, lambda _: lambda: client.get_org_token("ours-seq", ORG))),
            ("python.get_token.official", "get_token round trip: OAuthApi",
             threaded(1, lambda _: official_round_robin(100, keys=8))),
            *([("python.get_token_async.ours", "get_token round trip: AsyncOAuthClient",
                in_a_loop(lambda: async_client.get_org_token("ours-seq", ORG)))] if async_client else []),
            reps=ROUND_TRIP_REPS,
        ):
            add(figure)
        shared = ours("ours-threads")
        for figure in measure(
            ("python.get_token_threads.ours", "get_token, 8 threads: one OAuthClient",
             threaded(THREADS, lambda _: lambda: shared.get_org_token("ours-threads", ORG))),
            ("python.get_token_threads.official", "get_token, 8 threads: OAuthApi per thread",
             threaded(THREADS, official_round_robin)),
        ):
            add(figure)

        if hasattr(cobo_oauth, "TokenManager"):
            manager = cobo_oauth.TokenManager(ours("ours-manager"), "ours-manager")
            manager.access_token(ORG)
            async_manager = cobo_oauth.AsyncTokenManager(manager) if hasattr(cobo_oauth, "AsyncTokenManager") else None
            for figure in measure(
                ("python.access_token.ours", "TokenManager.access_token (cached)",
                 back_to_back(lambda: manager.access_token(ORG))),
                *([("python.access_token_async.ours", "AsyncTokenManager.access_token (cached)",
                    in_a_loop(lambda: async_manager.access_token(ORG)))] if async_manager else []),
            ):
                add(figure)
            if async_manager and async_client:
                median = {figure.id: statistics.median(figure.values) for figure in figures}
                values = {figure.id: figure.values for figure in figures}
                # Each turn's async rate over the sync rate measured just before it: drift in
                # the machine's speed between turns cancels out.
                paired = statistics.median(a / s for a, s in zip(values["python.get_token_async.ours"],
                                                                 values["python.get_token.ours"]))
                print("  async / sync: cached access_token {:.2f}x the time, get_org_token round trip {:.2f}x the time"
                      " (throughput: paired turns' median {:.2f}x)".format(
                          median["python.access_token.ours"] / median["python.access_token_async.ours"],
                          median["python.get_token.ours"] / median["python.get_token_async.ours"], paired))
        else:
            print("  (no TokenManager in this cobo_oauth build: access_token not measured)")

        for figure in measure(*protected_gets(mock, lambda private_key: MockConfiguration(
                api_private_key=private_key, host=mock.base_url))):
            add(figure)
    finally:
        mock.close()

    doc = {"language": "python", "runtime": f"CPython {platform.python_version()}",
           "versions": {"cobo_oauth": cobo_oauth.__version__, "cobo-waas2": sdk_version},
           "figures": [figure.json() for figure in figures]}
    with open(args.json, "w", encoding="utf-8") as out:
        json.dump(doc, out, indent=2)


if __name__ == "__main__":
    main()
