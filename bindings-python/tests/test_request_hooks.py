"""The httpx (sync and async) and requests hooks against the mock's protected endpoint:
the mock checks CoboAuth over the bytes that arrived, so an accepted call proves the
hook signed exactly what the client sent."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Iterator

import pytest

httpx = pytest.importorskip("httpx")
requests = pytest.importorskip("requests")

from cobo_oauth import (  # noqa: E402
    AppKey,
    InvalidArgumentError,
    OAuthClient,
    ResponseSignatureError,
    ResponseVerifier,
    TokenManager,
    TokenManagerConfig,
)
from cobo_oauth.httpx_auth import CoboHttpxAuth  # noqa: E402
from cobo_oauth.requests_auth import CoboRequestsAuth  # noqa: E402
from conftest import CLIENT_ID, ORG_ID, Mock  # noqa: E402

# Every character a query value must have encoded, and one that must not be.
AWKWARD = "a b+c&d=e/f~é"

# One way to make a call per client: (auth, method, url, params, json) -> (status, JSON body).
Call = Callable[..., "tuple[int, Any]"]


def call_httpx(auth: Any, method: str, url: str, params: Any = None, json: Any = None) -> tuple[int, Any]:
    with httpx.Client(auth=auth) as client:
        response = client.request(method, url, params=params, json=json)
        return response.status_code, response.json()


def call_httpx_async(auth: Any, method: str, url: str, params: Any = None, json: Any = None) -> tuple[int, Any]:
    async def run() -> tuple[int, Any]:
        async with httpx.AsyncClient(auth=auth) as client:
            response = await client.request(method, url, params=params, json=json)
            return response.status_code, response.json()

    return asyncio.run(run())


def call_requests(auth: Any, method: str, url: str, params: Any = None, json: Any = None) -> tuple[int, Any]:
    response = requests.request(method, url, params=params, json=json, auth=auth, timeout=10)
    return response.status_code, response.json()


HOOKS = {
    "httpx": (CoboHttpxAuth, call_httpx),
    "httpx-async": (CoboHttpxAuth, call_httpx_async),
    "requests": (CoboRequestsAuth, call_requests),
}


@pytest.fixture
def manager(mock: Mock, app_key: AppKey) -> TokenManager:
    # Margin 0: a token is used until it expires, so the expiry test is quick.
    client = OAuthClient(app_key, mock.config_for(max_retries=0))
    return TokenManager(client, CLIENT_ID, None, TokenManagerConfig(refresh_margin_secs=0))


@pytest.fixture
def verifier(mock: Mock) -> ResponseVerifier:
    return ResponseVerifier.with_key(mock.response_public_key)


@pytest.fixture(params=list(HOOKS))
def hook(request: pytest.FixtureRequest, app_key: AppKey, manager: TokenManager, verifier: ResponseVerifier) -> Iterator[tuple[Any, Call]]:
    auth_class, call = HOOKS[request.param]
    yield auth_class(app_key, manager, ORG_ID, verifier), call


@pytest.fixture
def wallets(mock: Mock) -> str:
    return mock.base_url + "/wallets"


def test_a_query_needing_encoding_and_a_json_post_are_accepted(hook: Any, mock: Mock, wallets: str) -> None:
    auth, call = hook
    status, body = call(auth, "GET", wallets, params={"name": AWKWARD, "limit": 10})
    assert status == 200, body
    assert body["request"]["params"] == [["name", AWKWARD], ["limit", "10"]]
    assert body["request"]["org_id"] == ORG_ID

    payload = {"name": AWKWARD, "wallet_type": "Custodial"}
    status, body = call(auth, "POST", wallets + "/w%201/addresses", json=payload)
    assert status == 200, body
    assert (body["request"]["body"], body["request"]["path"]) == (payload, "/v2/wallets/w%201/addresses")
    counters = mock.counters()
    assert (counters["protected_accepted"], counters["protected_refused"]) == (2, 0)


def test_a_tampered_response_is_rejected(hook: Any, mock: Mock, wallets: str, app_key: AppKey, manager: TokenManager) -> None:
    auth, call = hook
    mock.tamper()
    with pytest.raises(ResponseSignatureError):
        call(auth, "GET", wallets)
    # With verification off, the tampered body comes through.
    mock.tamper()
    status, body = call(type(auth)(app_key, manager, ORG_ID, None), "GET", wallets)
    assert (status, body["pagination"]["total_count"]) == (200, 1_000_000)


def test_an_expired_token_is_renewed_before_the_call(hook: Any, mock: Mock, wallets: str) -> None:
    auth, call = hook
    mock.set_ttls(access_ttl_secs=1)
    try:
        assert call(auth, "GET", wallets)[0] == 200
        time.sleep(1.1)
        mock.set_ttls(access_ttl_secs=43199)
        assert call(auth, "GET", wallets)[0] == 200
    finally:
        mock.set_ttls(access_ttl_secs=43199)
    counters = mock.counters()
    assert (counters["get"], counters["refresh"]) == (1, 1), "renewed by the clock"
    assert (counters["protected_accepted"], counters["protected_refused"]) == (2, 0), "never sent a dead token"


def test_the_org_can_be_picked_per_request(app_key: AppKey, manager: TokenManager, verifier: ResponseVerifier, wallets: str) -> None:
    picked: list[str] = []

    def org_of(request: Any) -> str:
        picked.append(request.headers["X-Org"])
        return str(request.headers["X-Org"])

    with httpx.Client(auth=CoboHttpxAuth(app_key, manager, org_of, verifier)) as client:
        assert client.get(wallets, headers={"X-Org": ORG_ID}).json()["request"]["org_id"] == ORG_ID
    session = requests.Session()
    session.auth = CoboRequestsAuth(app_key, manager, org_of, verifier)
    assert session.get(wallets, headers={"X-Org": ORG_ID}, timeout=10).json()["request"]["org_id"] == ORG_ID
    assert picked == [ORG_ID, ORG_ID]


def test_sixteen_threads_share_one_sync_hook(mock: Mock, app_key: AppKey, manager: TokenManager, verifier: ResponseVerifier, wallets: str) -> None:
    httpx_auth = CoboHttpxAuth(app_key, manager, ORG_ID, verifier)
    requests_auth = CoboRequestsAuth(app_key, manager, ORG_ID, verifier)
    errors: list[BaseException] = []
    with httpx.Client(auth=httpx_auth) as client:

        def work(n: int) -> None:
            try:
                for i in range(4):
                    params = {"thread": n, "call": i}
                    if n % 2:
                        assert client.get(wallets, params=params).status_code == 200
                    else:
                        assert requests.get(wallets, params=params, auth=requests_auth, timeout=10).status_code == 200
            except BaseException as error:  # reported below, with the thread's own traceback
                errors.append(error)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    # The mock refuses a reused nonce: 64 accepted calls had 64 distinct nonces.
    counters = mock.counters()
    assert (counters["protected_accepted"], counters["protected_refused"], counters["get"]) == (64, 0, 1)


def test_a_hundred_async_tasks_share_one_hook(mock: Mock, app_key: AppKey, manager: TokenManager, verifier: ResponseVerifier, wallets: str) -> None:
    auth = CoboHttpxAuth(app_key, manager, ORG_ID, verifier)

    async def run() -> list[int]:
        async with httpx.AsyncClient(auth=auth, limits=httpx.Limits(max_connections=20)) as client:
            responses = await asyncio.gather(*(client.get(wallets, params={"task": n}) for n in range(100)))
            return [response.status_code for response in responses]

    assert asyncio.run(run()) == [200] * 100
    counters = mock.counters()
    assert (counters["protected_accepted"], counters["protected_refused"], counters["get"]) == (100, 0, 1)


def test_a_body_that_is_not_utf8_is_refused_before_sending(hook: Any, mock: Mock, wallets: str) -> None:
    auth, _ = hook
    with pytest.raises(InvalidArgumentError):
        if isinstance(auth, CoboRequestsAuth):
            requests.post(wallets, data=b"\xff\xfe", auth=auth, timeout=10)
        else:
            httpx.post(wallets, content=b"\xff\xfe", auth=auth)
    assert mock.counters()["protected_accepted"] + mock.counters()["protected_refused"] == 0


def test_the_hooks_keep_the_token_and_key_out_of_logs_reprs_and_errors(
    hook: Any, mock: Mock, wallets: str, app_key: AppKey, manager: TokenManager, caplog: pytest.LogCaptureFixture
) -> None:
    auth, call = hook
    caplog.set_level(logging.DEBUG)
    call(auth, "GET", wallets, params={"q": 1})
    mock.tamper()
    with pytest.raises(ResponseSignatureError) as caught:
        call(auth, "GET", wallets)
    token, private = manager.access_token(ORG_ID), app_key.private_key_hex()
    request = httpx.Request("GET", wallets)
    CoboHttpxAuth(app_key, manager, ORG_ID, None)._sign(request, token)
    texts = [caplog.text, repr(auth), str(auth), str(caught.value), repr(caught.value), repr(request.headers)]
    for text in texts:
        assert token not in text
        assert private not in text
    assert app_key.api_key() in repr(auth)


def test_the_package_imports_without_httpx_or_requests() -> None:
    code = (
        "import sys\n"
        "sys.modules['httpx'] = sys.modules['requests'] = sys.modules['anyio'] = None\n"
        "import cobo_oauth, cobo_oauth.waas2\n"
        "try:\n"
        "    import cobo_oauth.httpx_auth\n"
        "except ImportError:\n"
        "    print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


def test_the_readme_snippet_lists_wallets(mock: Mock, app_key: AppKey, verifier: ResponseVerifier) -> None:
    from calling_waas import list_wallets

    wallets = list_wallets(app_key, mock.config_for(), verifier, CLIENT_ID, ORG_ID)
    assert (wallets["data"], wallets["request"]["query"]) == ([], "wallet_type=Custodial&limit=10")


@pytest.mark.parametrize("hook_class", [CoboHttpxAuth, CoboRequestsAuth])
def test_arguments_in_kotlins_order_fail_at_construction(
    hook_class: Any, app_key: AppKey, manager: TokenManager, verifier: ResponseVerifier
) -> None:
    with pytest.raises(TypeError, match="org_id must be a str or a callable.*by keyword"):
        hook_class(app_key, manager, verifier, ORG_ID)
    with pytest.raises(TypeError, match="verifier must be a ResponseVerifier or None, not str"):
        hook_class(app_key, manager, ORG_ID, "not a verifier")
    by_keyword = hook_class(app_key, manager, verifier=verifier, org_id=ORG_ID)
    assert app_key.api_key() in repr(by_keyword)
