"""Every WaaS call gets through: the request hooks (requests, httpx sync and async) send a
request again when Cobo refused it before acting on it, told by the verified answer's
status and error code (classify_refusal): a refused access token (revoked or expired
behind the manager's back: 500, error_code 2040) once, with the manager's next token,
renewed once for every caller; a refused nonce (2041 used before, 2042 outside the
window; another host, or a host clock that is off) with a fresh nonce, at most 3 times.
Nothing else is sent twice.

The mock's counters are the evidence: `issued` counts renewals, `protected_refused` the
refused sends, `nonce_reuses` / `nonce_out_of_window` the nonce refusals. Tests that move
the mock's clock or model other hosts run their callers in subprocesses
(worker.py) with their own COBO_OAUTH_CLOCK_DIR, so the Cobo clock they learn
stays out of this process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

httpx = pytest.importorskip("httpx")
requests = pytest.importorskip("requests")

from requests.structures import CaseInsensitiveDict  # noqa: E402

import cobo_oauth  # noqa: E402
from cobo_oauth import (  # noqa: E402
    AppKey,
    InvalidArgumentError,
    OAuthClient,
    Refusal,
    ResponseVerifier,
    TokenManager,
    TokenManagerConfig,
    UnavailableError,
    classify_refusal,
)
from cobo_oauth.httpx_auth import CoboHttpxAuth  # noqa: E402
from cobo_oauth.requests_auth import CoboRequestsAuth  # noqa: E402
from conftest import CLIENT_ID, ORG_ID, Mock  # noqa: E402

WORKER = Path(__file__).with_name("worker.py")
HOOK_NAMES = ["requests", "httpx", "httpx-async"]


# --- classify_refusal: the core's table, through the binding -----------------------------


def test_classify_refusal_tells_refusals_by_status_and_error_code() -> None:
    assert classify_refusal(401, b'{"error":"invalid_client","error_description":"x","error_code":2041}') is Refusal.COBO_AUTH
    assert classify_refusal(401, bytearray(b'{"error_code":2042}')) is Refusal.COBO_AUTH
    assert classify_refusal(401, b'{"error_code":2024,"error_message":"m"}') is Refusal.COBO_AUTH
    assert classify_refusal(500, b'{"error_code":2040,"error_message":"m","error_id":"i"}') is Refusal.ACCESS_TOKEN
    # Final: other statuses, a generic 500, a 401 without a code, bodies that are not JSON.
    assert classify_refusal(400, b'{"error_code":2041}') is None
    assert classify_refusal(200, b'{"error_code":2040}') is None
    assert classify_refusal(500, b'{"error_code":1000,"error_message":"token expired"}') is None
    assert classify_refusal(401, b'{"error":"invalid_token","error_description":"no token"}') is None
    assert classify_refusal(500, b"<html>") is None
    assert classify_refusal(401, b"") is None


def test_classify_refusal_checks_its_arguments() -> None:
    with pytest.raises(InvalidArgumentError):
        classify_refusal(70_000, b"{}")
    with pytest.raises(InvalidArgumentError):
        classify_refusal(-1, b"{}")
    with pytest.raises(TypeError):
        classify_refusal(401, '{"error_code":2041}')  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        classify_refusal(401.0, b"{}")  # type: ignore[arg-type]
    assert cobo_oauth._native.Refusal is Refusal and cobo_oauth._native._COBOAUTH_RESENDS == 3
    assert [refusal.name for refusal in Refusal] == ["COBO_AUTH", "ACCESS_TOKEN"]


# --- the hooks against the mock ---------------------------------------------------------


@pytest.fixture
def manager(mock: Mock, app_key: AppKey) -> TokenManager:
    client = OAuthClient(app_key, mock.config_for(max_retries=0))
    return TokenManager(client, CLIENT_ID, None, TokenManagerConfig(refresh_margin_secs=0))


@pytest.fixture
def verifier(mock: Mock) -> ResponseVerifier:
    return ResponseVerifier.with_key(mock.response_public_key)


@pytest.fixture
def wallets(mock: Mock) -> str:
    return mock.base_url + "/wallets"


def revoke(mock: Mock, expire_only: bool) -> None:
    mock._call("POST", "/revoke", {"org_id": ORG_ID, "expire_only": expire_only})


def set_clock_offset(mock: Mock, offset_ms: int) -> None:
    mock._call("POST", "/config", {"clock_offset_ms": offset_ms})


# Many calls at once through one hook: (auth, url, count) -> the statuses, failures as names.
Burst = Callable[[Any, str, int], "list[Any]"]


def threaded(send: Callable[[int], int], count: int) -> list[Any]:
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def work(n: int) -> None:
        try:
            start.wait()
            results[n] = send(n)
        except Exception as error:  # reported by the caller's assertion
            results[n] = type(error).__name__

    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def burst_requests(auth: Any, url: str, count: int) -> list[Any]:
    return threaded(lambda n: requests.get(url, params={"n": n}, auth=auth, timeout=30).status_code, count)


def burst_httpx(auth: Any, url: str, count: int) -> list[Any]:
    with httpx.Client(auth=auth, timeout=30, limits=httpx.Limits(max_connections=count)) as client:
        return threaded(lambda n: client.get(url, params={"n": n}).status_code, count)


def burst_httpx_async(auth: Any, url: str, count: int) -> list[Any]:
    async def run() -> list[Any]:
        async with httpx.AsyncClient(auth=auth, timeout=30, limits=httpx.Limits(max_connections=20)) as client:

            async def one(n: int) -> Any:
                try:
                    return (await client.get(url, params={"n": n})).status_code
                except Exception as error:  # reported by the caller's assertion
                    return type(error).__name__

            return list(await asyncio.gather(*(one(n) for n in range(count))))

    return asyncio.run(run())


HOOKS: dict[str, tuple[type, Burst]] = {
    "requests": (CoboRequestsAuth, burst_requests),
    "httpx": (CoboHttpxAuth, burst_httpx),
    "httpx-async": (CoboHttpxAuth, burst_httpx_async),
}


@pytest.fixture(params=HOOK_NAMES)
def hook(request: pytest.FixtureRequest, app_key: AppKey, manager: TokenManager, verifier: ResponseVerifier) -> tuple[Any, Burst]:
    auth_class, burst = HOOKS[request.param]
    return auth_class(app_key, manager, ORG_ID, verifier), burst


@pytest.mark.parametrize("expire_only", [False, True], ids=["revoked", "expired"])
def test_a_token_refused_behind_the_managers_back_is_renewed_and_the_call_gets_through(
    hook: tuple[Any, Burst], mock: Mock, wallets: str, expire_only: bool
) -> None:
    auth, burst = hook
    assert burst(auth, wallets, 1) == [200]
    mock.reset()
    revoke(mock, expire_only)
    assert burst(auth, wallets, 1) == [200]
    counters = mock.counters()
    assert 1 <= counters["issued"] <= 2, counters
    # One send with the refused token, one with the new one; nothing else.
    assert (counters["protected_refused"], counters["protected_accepted"]) == (1, 1), counters
    # Revoked: the refresh token is refused and the org's token granted anew; expired:
    # the refresh token still works.
    assert counters["get"] == (0 if expire_only else 1), counters
    assert burst(auth, wallets, 1) == [200]
    assert mock.counters()["issued"] == counters["issued"], "the new token is kept"


@pytest.mark.parametrize("expire_only", [False, True], ids=["revoked", "expired"])
def test_a_hundred_callers_after_a_revocation_cause_one_renewal(
    hook: tuple[Any, Burst], mock: Mock, wallets: str, expire_only: bool
) -> None:
    auth, burst = hook
    assert burst(auth, wallets, 1) == [200]
    mock.reset()
    revoke(mock, expire_only)
    results = burst(auth, wallets, 100)
    assert results == [200] * 100, sorted(map(str, results))
    counters = mock.counters()
    assert counters["issued"] == 1, counters
    assert counters["protected_accepted"] == 100, counters
    # Each caller sent the refused token at most once.
    assert 1 <= counters["protected_refused"] <= 100, counters
    assert (counters["nonce_reuses"], counters["nonce_out_of_window"]) == (0, 0), counters


def test_a_recovery_keeps_both_tokens_out_of_logs_reprs_and_history(
    hook: tuple[Any, Burst], mock: Mock, wallets: str, manager: TokenManager, caplog: pytest.LogCaptureFixture
) -> None:
    auth, burst = hook
    caplog.set_level(logging.DEBUG)
    assert burst(auth, wallets, 1) == [200]
    refused = manager.access_token(ORG_ID)
    revoke(mock, expire_only=False)
    assert burst(auth, wallets, 1) == [200]
    renewed = manager.access_token(ORG_ID)
    assert renewed != refused
    for text in (caplog.text, repr(auth), str(auth), repr(manager)):
        assert refused not in text and renewed not in text


def test_a_401_that_names_no_coboauth_code_is_final(mock: Mock, app_key: AppKey, manager: TokenManager, verifier: ResponseVerifier, wallets: str) -> None:
    """The mock answers a request without a Bearer token with a signed 401 invalid_token,
    which is no CoboAuth refusal: returned as it came, sent once."""

    class NoToken(CoboRequestsAuth):
        def _headers(self, method: str, target: str, body: bytes, token: str) -> dict[str, str]:
            headers = super()._headers(method, target, body, token)
            del headers["Authorization"]
            return headers

    response = requests.get(wallets, auth=NoToken(app_key, manager, ORG_ID, verifier), timeout=10)
    assert (response.status_code, response.json()["error"], response.history) == (401, "invalid_token", [])
    assert mock.counters()["protected_refused"] == 1


# --- what is sent again, and how often: scripted answers, no verifier ----------------------

# A scripted server's answers, in order (the last repeats), and what it saw.
Answer = "tuple[int, bytes]"
GENERIC_500 = (500, b'{"error_code":1000,"error_message":"internal error","error_id":"e1"}')
TOKEN_REFUSED = (500, b'{"error_code":2040,"error_message":"the access token has been revoked","error_id":"e2"}')
NONCE_REUSED = (401, b'{"error":"invalid_client","error_description":"Biz-Api-Nonce has already been used","error_code":2041}')
NO_TOKEN = (401, b'{"error":"invalid_token","error_description":"missing token"}')
OK = (200, b'{"data":[]}')


class Script:
    def __init__(self, answers: list[tuple[int, bytes]]) -> None:
        self.answers = answers
        self.seen: list[tuple[str, str, str, bytes]] = []  # method, nonce, authorization, body
        self.lock = threading.Lock()

    def answer(self, method: str, headers: Any, body: bytes) -> tuple[int, bytes]:
        with self.lock:
            self.seen.append((method, headers["Biz-Api-Nonce"], headers["Authorization"], body))
            return self.answers[min(len(self.seen), len(self.answers)) - 1]


class ScriptedAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter that answers from a Script without any network."""

    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script

    def send(self, request: Any, **kwargs: Any) -> Any:
        status, body = self.script.answer(request.method, request.headers, request.body or b"")
        response = requests.Response()
        response.status_code = status
        response._content = body
        response._content_consumed = True  # type: ignore[attr-defined]
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.request = request
        response.connection = self  # type: ignore[attr-defined]
        response.url = request.url
        return response


def scripted_requests(auth: Any, script: Script, method: str, body: Optional[bytes]) -> Any:
    with requests.Session() as session:
        session.mount("https://scripted.invalid/", ScriptedAdapter(script))
        return session.request(method, "https://scripted.invalid/v2/wallets", data=body, auth=auth, timeout=10)


def scripted_httpx(auth: Any, script: Script, method: str, body: Optional[bytes]) -> Any:
    def handler(request: Any) -> Any:
        status, content = script.answer(request.method, request.headers, request.content)
        return httpx.Response(status, content=content, headers={"Content-Type": "application/json"})

    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        return client.request(method, "https://scripted.invalid/v2/wallets", content=body)


def scripted_httpx_async(auth: Any, script: Script, method: str, body: Optional[bytes]) -> Any:
    async def handler(request: Any) -> Any:
        await request.aread()
        status, content = script.answer(request.method, request.headers, request.content)
        return httpx.Response(status, content=content, headers={"Content-Type": "application/json"})

    async def run() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as client:
            return await client.request(method, "https://scripted.invalid/v2/wallets", content=body)

    return asyncio.run(run())


SCRIPTED = {
    "requests": (CoboRequestsAuth, scripted_requests),
    "httpx": (CoboHttpxAuth, scripted_httpx),
    "httpx-async": (CoboHttpxAuth, scripted_httpx_async),
}


@pytest.fixture(params=HOOK_NAMES)
def scripted(request: pytest.FixtureRequest, app_key: AppKey, manager: TokenManager) -> Iterator[Callable[..., tuple[Any, Script]]]:
    """Calls through a hook (responses unverified: the script cannot sign like Cobo)
    against scripted answers: (answers, method="POST", body=...) -> (response, script)."""
    auth_class, call = SCRIPTED[request.param]

    def run(answers: list[tuple[int, bytes]], method: str = "POST", body: Optional[bytes] = b'{"amount":"1"}') -> tuple[Any, Script]:
        script = Script(answers)
        auth = auth_class(app_key, manager, ORG_ID, None)
        return call(auth, script, method, body), script

    yield run


@pytest.mark.parametrize(("answer", "status"), [(GENERIC_500, 500), (NO_TOKEN, 401)], ids=["generic-500", "401-no-coboauth-code"])
def test_an_answer_that_is_no_coboauth_refusal_is_not_sent_again(
    scripted: Callable[..., tuple[Any, Script]], mock: Mock, answer: Any, status: int
) -> None:
    response, script = scripted([answer, OK])
    assert (response.status_code, len(script.seen), len(response.history)) == (status, 1, 0)
    assert mock.counters()["issued"] == 1, "only the first token"


def test_a_refused_nonce_is_sent_again_freshly_signed_at_most_three_times(scripted: Callable[..., tuple[Any, Script]]) -> None:
    response, script = scripted([NONCE_REUSED])
    assert (response.status_code, len(script.seen), len(response.history)) == (401, 4, 3)
    assert len({nonce for _, nonce, _, _ in script.seen}) == 4, "a fresh nonce each time"
    assert len({authorization for _, _, authorization, _ in script.seen}) == 1, "the same token"
    assert {(method, body) for method, _, _, body in script.seen} == {("POST", b'{"amount":"1"}')}, "the same request"
    response, script = scripted([NONCE_REUSED, NONCE_REUSED, OK], method="GET", body=None)
    assert (response.status_code, len(script.seen), [r.status_code for r in response.history]) == (200, 3, [401, 401])


def test_a_refused_token_is_renewed_once(scripted: Callable[..., tuple[Any, Script]], mock: Mock) -> None:
    response, script = scripted([TOKEN_REFUSED])
    assert (response.status_code, len(script.seen), len(response.history)) == (500, 2, 1)
    assert len({authorization for _, _, authorization, _ in script.seen}) == 2, "the second with a new token"
    assert len({nonce for _, nonce, _, _ in script.seen}) == 2
    counters = mock.counters()
    assert (counters["get"], counters["refresh"], counters["issued"]) == (1, 1, 2), "granted, then refreshed once"


def test_the_two_budgets_are_apart(scripted: Callable[..., tuple[Any, Script]]) -> None:
    response, script = scripted([NONCE_REUSED, TOKEN_REFUSED, NONCE_REUSED, NONCE_REUSED, OK])
    assert (response.status_code, len(script.seen)) == (200, 5)
    response, script = scripted([TOKEN_REFUSED, TOKEN_REFUSED, OK])
    assert (response.status_code, len(script.seen)) == (500, 2), "one renewal per call"


def test_an_unsigned_500_is_unavailable_and_not_sent_again(app_key: AppKey, manager: TokenManager, verifier: ResponseVerifier) -> None:
    """With the verifier on, a 500 without Cobo's signature is a proxy's: UnavailableError,
    before any classification."""
    script = Script([TOKEN_REFUSED])
    with pytest.raises(UnavailableError):
        scripted_requests(CoboRequestsAuth(app_key, manager, ORG_ID, verifier), script, "GET", None)
    with pytest.raises(UnavailableError):
        scripted_httpx(CoboHttpxAuth(app_key, manager, ORG_ID, verifier), script, "GET", None)
    assert len(script.seen) == 2


def test_the_async_hook_drops_the_refused_lease(app_key: AppKey, manager: TokenManager, mock: Mock) -> None:
    auth = CoboHttpxAuth(app_key, manager, ORG_ID, None)
    assert scripted_httpx_async(auth, Script([TOKEN_REFUSED, OK]), "GET", None).status_code == 200
    script = Script([OK])
    assert scripted_httpx_async(auth, script, "GET", None).status_code == 200
    # The cached lease is the renewed token: no further renewal, and it is what was sent.
    assert mock.counters()["issued"] == 2
    assert script.seen[0][2] == f"Bearer {manager.access_token(ORG_ID)}"


# --- other hosts and host clocks: subprocesses with their own clock directory ----------------


@pytest.fixture
def fresh_app(mock: Mock) -> Iterator[tuple[str, AppKey]]:
    """An app of its own (client id, key) for the org, so the nonces earlier tests left in
    the mock's book for the session's key cannot clash with this test's."""
    key = AppKey.generate()
    client_id = f"py-refusals-{key.api_key()[:8]}"
    mock.register(client_id, key.api_key(), [ORG_ID])
    yield client_id, key


def start_worker(mock: Mock, app_key: AppKey, clock_dir: Path, **settings: Any) -> subprocess.Popen[str]:
    settings = {
        "base_url": mock.base_url,
        "response_public_key": mock.response_public_key,
        "client_id": CLIENT_ID,
        "org_id": ORG_ID,
        **settings,
    }
    env = {**os.environ, "COBO_APP_PRIVATE_KEY": app_key.private_key_hex(), "COBO_OAUTH_CLOCK_DIR": str(clock_dir)}
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(settings)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
        cwd=Path(__file__).parent,
    )
    assert worker.stdout is not None
    line = worker.stdout.readline()
    assert json.loads(line or "{}") == {"ready": True}, f"the worker did not start ({worker.wait(timeout=30)})"
    return worker


def go(worker: subprocess.Popen[str]) -> None:
    """Lets a ready worker run."""
    assert worker.stdin is not None
    worker.stdin.write("go\n")
    worker.stdin.flush()


def finish(worker: subprocess.Popen[str], timeout: float = 300) -> dict[str, Any]:
    """Waits for a worker that was let run; returns its result line."""
    out, _ = worker.communicate(timeout=timeout)
    assert worker.returncode == 0, f"the worker failed with {worker.returncode}"
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


@pytest.fixture
def clock_offset(mock: Mock) -> Iterator[Callable[[int], None]]:
    """Moves the mock's clock (as a host clock off by the opposite would see Cobo's); back
    to the host's after the test."""
    try:
        yield lambda offset_ms: set_clock_offset(mock, offset_ms)
    finally:
        set_clock_offset(mock, 0)


@pytest.mark.parametrize("offset_ms", [120_000, -120_000], ids=["behind", "ahead"])
@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_a_host_clock_two_minutes_off_learns_cobos_from_the_first_answer(
    mock: Mock, fresh_app: tuple[str, AppKey], tmp_path: Path, clock_offset: Callable[[int], None], hook_name: str, offset_ms: int
) -> None:
    # The worker gets its token first, on the host's clock; then Cobo's clock moves, and
    # its first protected call is the first to learn it.
    client_id, key = fresh_app
    worker = start_worker(mock, key, tmp_path, mode="calls", hook=hook_name, calls=5, client_id=client_id)
    clock_offset(offset_ms)
    mock.reset()
    go(worker)
    result = finish(worker)
    counters = mock.counters()
    print(f"{hook_name}, Cobo's clock {offset_ms:+} ms: {result}, {counters}")
    assert (result["failures"], result["statuses"]) == (0, {"200": 5}), result
    assert counters["protected_accepted"] == 5, counters
    # The first call was refused once (its nonce outside the window), then resent on
    # the clock its refusal taught; nothing else was refused.
    assert counters["protected_refused"] == counters["nonce_out_of_window"] == 1, counters
    assert (counters["nonce_reuses"], counters["issued"]) == (0, 0), counters


@pytest.mark.parametrize("offset_ms", [120_000, -120_000], ids=["behind", "ahead"])
def test_a_refresh_refused_for_its_nonce_is_resent_and_never_falls_back(
    mock: Mock, fresh_app: tuple[str, AppKey], tmp_path: Path, clock_offset: Callable[[int], None], offset_ms: int
) -> None:
    client_id, key = fresh_app
    worker = start_worker(
        mock, key, tmp_path / "clock", mode="renew", store={"kind": "file", "path": str(tmp_path / "tokens.json")}, client_id=client_id
    )
    clock_offset(offset_ms)
    revoke(mock, expire_only=True)  # the access token is expired; the refresh token is good
    mock.reset()
    go(worker)
    result = finish(worker)
    counters = mock.counters()
    print(f"refresh, Cobo's clock {offset_ms:+} ms: {counters}")
    assert result == {"renewed": True, "stored": True}
    # The refresh POST was refused for its nonce before Cobo acted, resent once on the
    # learned clock and accepted: no org_implicit fallback, nothing deleted.
    assert (counters["get"], counters["refresh"], counters["issued"]) == (0, 2, 1), counters
    assert (counters["nonce_out_of_window"], counters["spent_refusals"]) == (1, 0), counters


HOST_CALLS = 2_000


def run_hosts(mock: Mock, app: tuple[str, AppKey], dirs: list[Path], threads: int, pace_ms: float) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Two workers (clock directories `dirs`) making HOST_CALLS protected calls each at
    once through the requests hook; their results and the mock's counters."""
    client_id, key = app
    workers = [
        start_worker(mock, key, clock_dir, mode="calls", hook="requests", calls=HOST_CALLS, threads=threads,
                     pace_ms=pace_ms, client_id=client_id)
        for clock_dir in dirs
    ]
    mock.reset()
    for worker in workers:
        go(worker)
    results = [finish(worker) for worker in workers]
    counters = mock.counters()
    print(
        f"{len(set(dirs))} clock dir(s), {threads} thread(s) each, a call every {pace_ms} ms per thread: "
        f"{len(dirs) * HOST_CALLS} calls in {max(r['seconds'] for r in results)} s, "
        f"{counters['nonce_reuses']} resent for a nonce clash (nonce_reuses), "
        f"{sum(r['failures'] for r in results)} failed; {results}"
    )
    assert counters["protected_refused"] == counters["nonce_reuses"], f"every refusal was a nonce clash: {counters}"
    assert counters["nonce_out_of_window"] == 0, counters
    return results, counters


@pytest.mark.parametrize(
    ("clock_dirs", "threads", "pace_ms", "clashes"),
    [
        # Two hosts (two clock directories), each a call every 4 ms (Cobo's round trips
        # are far longer than the mock's): their nonces clash, and every clash is resent
        # with a fresh nonce until it gets through.
        pytest.param(["a", "b"], 1, 4, None, id="two-hosts-paced"),
        # Two processes of one host (one clock directory), 4 threads each, flat out: they
        # draw from one clock, so Cobo never sees a nonce twice.
        pytest.param(["shared", "shared"], 4, 0, False, id="one-host-flat-out"),
        # Two hosts flat out (on loopback each thread calls about once a millisecond) want
        # more than the 1,000 millisecond nonces a second a key has, so their clocks run
        # ahead into each other's ranges. Each clash is resent, and moves the clock of the
        # host that lost it past the other's nonces (as far again as it runs ahead).
        pytest.param(["a", "b"], 4, 0, True, id="two-hosts-flat-out"),
    ],
)
def test_two_processes_with_one_key_get_every_call_through(
    mock: Mock, fresh_app: tuple[str, AppKey], tmp_path: Path, clock_dirs: list[str], threads: int, pace_ms: int,
    clashes: Optional[bool],
) -> None:
    results, counters = run_hosts(mock, fresh_app, [tmp_path / name for name in clock_dirs], threads=threads, pace_ms=pace_ms)
    assert [result["failures"] for result in results] == [0, 0], results
    assert [result["errors"] for result in results] == [{}, {}], results
    assert counters["protected_accepted"] == 2 * HOST_CALLS, counters
    if clashes is not None:
        assert (counters["nonce_reuses"] > 0) == clashes, counters
