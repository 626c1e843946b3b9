"""Fixtures: the shared mock server (target/release/cobo-oauth-mock) driven through its
control API, an app registered with it, and clients pointed at it.

These tests run against the installed wheel; nothing here imports the source tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import cobo_oauth
from cobo_oauth import AppKey, ClientConfig, OAuthClient

REPO = Path(__file__).resolve().parents[2]
MOCK_BINARY = Path(os.environ.get("COBO_OAUTH_MOCK", REPO / "target" / "release" / "cobo-oauth-mock"))

CLIENT_ID = "py-portal-app"
ORG_ID = "e3986401-4aec-480a-973d-e775a4518413"
OTHER_ORG_ID = "org-that-never-installed"

# The UDL's error variants and the Python classes that carry them. `Timeout` would
# shadow the builtin TimeoutError, so its class is RequestTimeoutError.
VARIANT_CLASSES: dict[str, type[cobo_oauth.CoboOAuthError]] = {
    "InvalidKey": cobo_oauth.InvalidKeyError,
    "InvalidArgument": cobo_oauth.InvalidArgumentError,
    "OAuth": cobo_oauth.OAuthError,
    "Server": cobo_oauth.ServerError,
    "Unavailable": cobo_oauth.UnavailableError,
    "Transport": cobo_oauth.TransportError,
    "Timeout": cobo_oauth.RequestTimeoutError,
    "InvalidResponse": cobo_oauth.InvalidResponseError,
    "ResponseSignature": cobo_oauth.ResponseSignatureError,
    "Store": cobo_oauth.StoreError,
    "AuthorizationRequired": cobo_oauth.AuthorizationRequiredError,
}


def load_json(relative: str) -> Any:
    with open(REPO / relative, encoding="utf-8") as file:
        return json.load(file)


class Mock:
    """A running cobo-oauth-mock and its control API (plain JSON over HTTP)."""

    def __init__(self, base_url: str, control_url: str, response_public_key: str) -> None:
        self.base_url = base_url
        self.control_url = control_url
        self.response_public_key = response_public_key

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.control_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def register(self, client_id: str, api_key: str, orgs: list[str]) -> None:
        self._call("POST", "/apps", {"client_id": client_id, "api_key": api_key, "orgs": orgs})

    def fault(self, fault: dict[str, Any], operation: str, count: int = 1) -> None:
        self._call("POST", "/faults", {"fault": fault, "count": count, "operation": operation})

    def counters(self) -> dict[str, int]:
        counters: dict[str, int] = self._call("GET", "/counters")
        return counters

    def reset(self) -> None:
        self._call("POST", "/reset", {})

    def tamper(self, count: int = 1) -> None:
        """The next `count` accepted protected (/v2/wallets) answers arrive tampered."""
        self._call("POST", "/tamper", {"count": count})

    def set_ttls(self, **ttls: int) -> None:
        """`access_ttl_secs` / `refresh_ttl_secs` of tokens issued from now on."""
        self._call("POST", "/config", ttls)

    def config_for(self, **overrides: Any) -> ClientConfig:
        """A ClientConfig pointed at this mock; short retry delays keep tests quick."""
        settings: dict[str, Any] = {
            "base_url": self.base_url,
            "response_public_key": self.response_public_key,
            "retry_base_delay_ms": 5,
            "retry_max_delay_ms": 20,
        }
        settings.update(overrides)
        return ClientConfig(**settings)


@pytest.fixture(scope="session")
def mock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mock]:
    if not MOCK_BINARY.is_file():
        pytest.fail(f"{MOCK_BINARY} is missing: build it with `cargo build --release -p cobo-oauth-mock`")
    log = open(tmp_path_factory.mktemp("mock") / "mock.log", "wb")
    process = subprocess.Popen(
        [str(MOCK_BINARY)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        yield Mock(ready["base_url"], ready["control_url"], ready["response_public_key"])
    finally:
        # The mock exits when its stdin closes.
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def app_key() -> AppKey:
    return AppKey.generate()


@pytest.fixture(scope="session")
def registered(mock_server: Mock, app_key: AppKey) -> Mock:
    mock_server.register(CLIENT_ID, app_key.api_key(), [ORG_ID])
    return mock_server


@pytest.fixture
def mock(registered: Mock) -> Mock:
    """The mock with the test app registered, no queued faults and zeroed counters."""
    registered.reset()
    return registered


@pytest.fixture
def make_client(mock: Mock, app_key: AppKey) -> Callable[..., OAuthClient]:
    def make(**overrides: Any) -> OAuthClient:
        return OAuthClient(app_key, mock.config_for(**overrides))

    return make


@pytest.fixture
def client(make_client: Callable[..., OAuthClient]) -> OAuthClient:
    return make_client()
