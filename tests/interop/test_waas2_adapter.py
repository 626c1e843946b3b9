"""cobo_oauth.waas2: the official SDK's generated API classes calling the mock's protected
endpoint (/v2/wallets) with our TokenManager's token. The SDK signs (the mock checks its
signature over what arrived) and verifies the answers; the adapter adds the token, and
makes a call again when Cobo refused it before acting (a revoked or expired token, a
nonce). Scripted answers, signed by a stand-in's own key, show what is not made again."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
from cobo_waas2 import ApiClient, Configuration, WalletsApi
from cobo_waas2.exceptions import ApiException
from nacl.signing import SigningKey

from cobo_oauth import AppKey, ClientConfig, OAuthClient, TokenManager, TokenManagerConfig
from cobo_oauth.waas2 import org_api_client
from conftest import ORG_ID, App, Mock, paced, sdk_configuration
from waas2_snippet import list_wallets_with_the_sdk

# Every character a query value must have encoded, and one that must not be.
AWKWARD = "a b+c&d=e/f~é"


@pytest.fixture
def manager(mock: Mock, app: App) -> Iterator[TokenManager]:
    config = ClientConfig(base_url=mock.base_url, response_public_key=mock.response_public_key, max_retries=0)
    client = OAuthClient(AppKey(app.private_key_hex), config)
    yield TokenManager(client, app.client_id, None, TokenManagerConfig(refresh_margin_secs=0))
    mock.control("/config", {"access_ttl_secs": 43199})


def test_the_readme_snippet_lists_wallets_with_the_orgs_token(mock: Mock, app: App, manager: TokenManager) -> None:
    wallets = list_wallets_with_the_sdk(sdk_configuration(mock, app.private_key_hex), manager, ORG_ID)
    assert wallets.data == []
    counters = mock.counters()
    assert (counters["protected_accepted"], counters["protected_refused"], counters["get"]) == (1, 0, 1)


def test_without_the_adapter_the_sdk_sends_no_token(mock: Mock, app: App) -> None:
    with pytest.raises(ApiException) as refused:
        WalletsApi(ApiClient(sdk_configuration(mock, app.private_key_hex))).list_wallets()
    assert refused.value.status == 401
    assert mock.counters()["protected_refused"] == 1


def test_a_query_needing_encoding_is_signed_by_the_sdk_and_accepted(mock: Mock, app: App, manager: TokenManager) -> None:
    api = WalletsApi(org_api_client(sdk_configuration(mock, app.private_key_hex), manager, ORG_ID))
    paced()
    response = api.list_wallets_with_http_info(before=AWKWARD, limit=5)
    assert response.status_code == 200
    assert mock.counters()["protected_accepted"] == 1


def test_an_expired_token_is_renewed_before_the_call(mock: Mock, app: App, manager: TokenManager) -> None:
    api = WalletsApi(org_api_client(sdk_configuration(mock, app.private_key_hex), manager, ORG_ID))
    mock.control("/config", {"access_ttl_secs": 1})
    paced()
    api.list_wallets()
    time.sleep(1.1)
    mock.control("/config", {"access_ttl_secs": 43199})
    paced()
    api.list_wallets()
    counters = mock.counters()
    assert (counters["get"], counters["refresh"]) == (1, 1), "renewed by the clock"
    assert (counters["protected_accepted"], counters["protected_refused"]) == (2, 0), "never sent a dead token"


def test_the_adapter_shows_no_token(mock: Mock, app: App, manager: TokenManager) -> None:
    api_client = org_api_client(sdk_configuration(mock, app.private_key_hex), manager, ORG_ID)
    paced()
    WalletsApi(api_client).list_wallets()
    token = manager.access_token(ORG_ID)
    assert token not in repr(api_client) and token not in str(api_client)
    assert ORG_ID in repr(api_client)


# --- Cobo's refusals: the adapter makes the call again through the SDK -------------------


def revoke(mock: Mock, expire_only: bool) -> None:
    mock.control("/revoke", {"org_id": ORG_ID, "expire_only": expire_only})


@pytest.mark.parametrize("expire_only", [False, True], ids=["revoked", "expired"])
def test_a_token_refused_behind_the_managers_back_is_renewed_and_the_call_gets_through(
    mock: Mock, app: App, manager: TokenManager, expire_only: bool
) -> None:
    api = WalletsApi(org_api_client(sdk_configuration(mock, app.private_key_hex), manager, ORG_ID))
    paced()
    api.list_wallets()
    mock.control("/reset", {})
    revoke(mock, expire_only)
    paced()
    assert api.list_wallets().data == []
    counters = mock.counters()
    assert 1 <= counters["issued"] <= 2, counters
    # One send with the refused token, one with the new one. Rarely the SDK's wall-clock
    # nonce and the manager's refresh draw one millisecond: whichever comes second is
    # refused as reused (on either endpoint) and resent.
    assert counters["protected_accepted"] == 1, counters
    assert 1 <= counters["protected_refused"] <= 1 + counters["nonce_reuses"], counters
    assert counters["get"] == (0 if expire_only else 1), counters


@pytest.mark.parametrize("expire_only", [False, True], ids=["revoked", "expired"])
def test_a_hundred_threads_after_a_revocation_cause_one_renewal(
    mock: Mock, app: App, manager: TokenManager, expire_only: bool
) -> None:
    api = WalletsApi(org_api_client(sdk_configuration(mock, app.private_key_hex), manager, ORG_ID))
    paced()
    api.list_wallets()
    mock.control("/reset", {})
    revoke(mock, expire_only)
    failures: list[str] = []
    start = threading.Barrier(100)

    def call() -> None:
        try:
            start.wait()
            api.list_wallets()
        except Exception as error:  # reported below
            failures.append(f"{type(error).__name__}: {getattr(error, 'status', '')}")

    threads = [threading.Thread(target=call) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counters = mock.counters()
    print(f"100 SDK threads after revoke ({'expired' if expire_only else 'revoked'}): {counters}")
    assert failures == []
    assert counters["issued"] == 1, counters
    assert counters["protected_accepted"] == 100, counters
    # Each thread sent the refused token at most once. The SDK's nonces (the wall-clock
    # millisecond) never clash between threads: a clash takes one of the nonces of the
    # manager's token requests, each of which is in one millisecond.
    assert 1 <= counters["protected_refused"] <= 100 + counters["nonce_reuses"], counters
    assert counters["nonce_reuses"] <= counters["get"] + counters["refresh"], counters


def test_a_refused_nonce_is_resent_at_most_three_times(mock: Mock, app: App, manager: TokenManager) -> None:
    """The SDK's nonce is this host's wall clock: with Cobo's clock two minutes away,
    every send is refused for its nonce; the call is made 1 + 3 times, then the SDK
    raises the 401. (The manager's token was got first, on the host's clock.)"""
    api = WalletsApi(org_api_client(sdk_configuration(mock, app.private_key_hex), manager, ORG_ID))
    manager.access_token(ORG_ID)
    mock.control("/config", {"clock_offset_ms": 120_000})
    try:
        mock.control("/reset", {})
        paced()
        with pytest.raises(ApiException) as refused:
            api.list_wallets()
    finally:
        mock.control("/config", {"clock_offset_ms": 0})
    assert refused.value.status == 401
    counters = mock.counters()
    assert (counters["protected_refused"], counters["nonce_out_of_window"], counters["protected_accepted"]) == (4, 4, 0)


class Scripted:
    """A WaaS stand-in on loopback that answers every request from a script (the last
    answer repeats), signed with its own Ed25519 key, and records what it saw."""

    def __init__(self, answers: list[tuple[int, bytes]]) -> None:
        self.answers = answers
        self.seen: list[tuple[str, str]] = []  # nonce, authorization
        self.key = SigningKey.generate()
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                scripted.seen.append((self.headers["Biz-Api-Nonce"], self.headers["Authorization"]))
                status, body = scripted.answers[min(len(scripted.seen), len(scripted.answers)) - 1]
                timestamp = str(int(time.time() * 1000))
                digest = hashlib.sha256(hashlib.sha256(body + b"|" + timestamp.encode()).digest()).digest()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Biz-Timestamp", timestamp)
                self.send_header("Biz-Resp-Signature", scripted.key.sign(digest).signature.hex())
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v2"
        self.public_key = self.key.verify_key.encode().hex()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted(app: App, manager: TokenManager) -> Iterator[Any]:
    servers: list[Scripted] = []

    def start(answers: list[tuple[int, bytes]]) -> tuple[Scripted, WalletsApi]:
        server = Scripted(answers)
        servers.append(server)
        key = server.public_key

        class ScriptedConfiguration(Configuration):
            @property
            def resp_pubkey(self) -> str:
                return key

        configuration = ScriptedConfiguration(api_private_key=app.private_key_hex, host=server.base_url)
        return server, WalletsApi(org_api_client(configuration, manager, ORG_ID))

    yield start
    for server in servers:
        server.close()


GENERIC_500 = (500, b'{"success":false,"error_code":1000,"error_message":"internal error","error_id":"e1"}')
TOKEN_REFUSED = (500, b'{"success":false,"error_code":2040,"error_message":"token revoked","error_id":"e2"}')
NONCE_REUSED = (401, b'{"success":false,"error_code":2041,"error_message":"nonce used","error_id":"e3"}')
WALLETS = (200, b'{"data":[],"pagination":{"before":"","after":"","total_count":0}}')


def test_a_generic_500_is_not_made_again(scripted: Any) -> None:
    server, api = scripted([GENERIC_500, WALLETS])
    with pytest.raises(ApiException) as failed:
        api.list_wallets()
    assert (failed.value.status, len(server.seen)) == (500, 1)


def test_a_refused_token_is_renewed_once(scripted: Any, mock: Mock) -> None:
    server, api = scripted([TOKEN_REFUSED])
    with pytest.raises(ApiException) as failed:
        api.list_wallets()
    assert (failed.value.status, len(server.seen)) == (500, 2)
    assert len({authorization for _, authorization in server.seen}) == 2, "the second with the manager's next token"
    assert mock.counters()["issued"] == 2
    server, api = scripted([TOKEN_REFUSED, WALLETS])
    assert api.list_wallets().data == []


def test_a_refused_nonce_is_made_again_with_a_new_one(scripted: Any) -> None:
    server, api = scripted([NONCE_REUSED, NONCE_REUSED, WALLETS])
    assert api.list_wallets().data == []
    assert len(server.seen) == 3 and len({nonce for nonce, _ in server.seen}) == 3
    server, api = scripted([NONCE_REUSED])
    with pytest.raises(ApiException) as failed:
        api.list_wallets()
    assert (failed.value.status, len(server.seen)) == (401, 4)


def test_an_answer_read_for_its_refusal_can_still_be_read_unpreloaded(scripted: Any) -> None:
    server, api = scripted([GENERIC_500])
    raw = api.list_wallets_without_preload_content()
    assert (raw.status, json.loads(raw.read())["error_code"]) == (500, 1000)


def test_an_unsigned_refusal_is_not_made_again(scripted: Any, app: App, manager: TokenManager) -> None:
    """Only an answer the SDK's key for Cobo verifies is classified: a 401 that claims a
    nonce refusal without Cobo's signature is final."""
    server, _ = scripted([NONCE_REUSED])

    class WrongKey(Configuration):
        @property
        def resp_pubkey(self) -> str:
            return SigningKey.generate().verify_key.encode().hex()

    api = WalletsApi(org_api_client(WrongKey(api_private_key=app.private_key_hex, host=server.base_url), manager, ORG_ID))
    with pytest.raises(ApiException):
        api.list_wallets()
    assert len(server.seen) == 1
