"""Fixtures for the interoperability tests: the shared mock server, apps registered with
keys that the official SDK generated, the SDK's OAuthApi pointed at the mock, and our
`cobo-oauth` command. Run by tests/interop/run.sh, which sets COBO_OAUTH_MOCK and
COBO_OAUTH_CLI."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Iterator, Optional

# The nonce clock and the offset to Cobo's clock are shared by every process of a host
# using one clock directory; this suite skews its mock's clock, so it takes a directory
# of its own (as bindings-python/tests/conftest.py does), which the CLI it runs inherits.
if "COBO_OAUTH_CLOCK_DIR" not in os.environ:
    os.environ["COBO_OAUTH_CLOCK_DIR"] = tempfile.mkdtemp(prefix="cobo-oauth-clock-")
    atexit.register(shutil.rmtree, os.environ["COBO_OAUTH_CLOCK_DIR"], True)

import pytest
from cobo_waas2 import ApiClient, Configuration
from cobo_waas2.api.o_auth_api import OAuthApi
from cobo_waas2.crypto.local_ed25519_signer import LocalEd25519Signer

ORG_ID = "e3986401-4aec-480a-973d-e775a4518413"


class Mock:
    """One cobo-oauth-mock process; it exits when its stdin closes."""

    def __init__(self, binary: str) -> None:
        self.process = subprocess.Popen(
            [binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert self.process.stdout is not None
        info = json.loads(self.process.stdout.readline())
        self.base_url: str = info["base_url"]
        self.control_url: str = info["control_url"]
        self.response_public_key: str = info["response_public_key"]

    def control(self, path: str, body: Optional[dict[str, Any]] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.control_url + path, data, method="GET" if body is None else "POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def register(self, client_id: str, api_key: str) -> None:
        self.control("/apps", {"client_id": client_id, "api_key": api_key, "orgs": [ORG_ID]})

    def counters(self) -> dict[str, int]:
        return self.control("/counters")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


@dataclass
class App:
    client_id: str
    private_key_hex: str
    api_key: str


@pytest.fixture
def mock() -> Iterator[Mock]:
    server = Mock(os.environ["COBO_OAUTH_MOCK"])
    yield server
    server.close()


@pytest.fixture
def app(mock: Mock) -> App:
    """An app whose key pair the official SDK generated, registered with the mock."""
    private_key_hex, api_key = LocalEd25519Signer.generate_key_pair()
    registered = App("interop-app", private_key_hex, api_key)
    mock.register(registered.client_id, registered.api_key)
    return registered


def sdk_for(mock: Mock, private_key_hex: Optional[str] = None, *, response_public_key: Optional[str] = None,
            signer: Any = None) -> OAuthApi:
    """The SDK's OAuthApi against the mock, verifying responses with the mock's key.

    The SDK knows the response keys of Cobo's three hosts only (`Configuration.resp_pubkey`,
    a read-only property chosen by `host`), so a subclass supplies the mock's key; the
    rest is the SDK as shipped: `host` takes the mock's plain-http base URL as is
    (urllib3 sends http:// without TLS), `api_private_key` makes its LocalEd25519Signer.
    """
    config = sdk_configuration(mock, private_key_hex, response_public_key=response_public_key, signer=signer)
    return OAuthApi(ApiClient(config))


def sdk_configuration(mock: Mock, private_key_hex: Optional[str] = None, *,
                      response_public_key: Optional[str] = None, signer: Any = None) -> Configuration:
    """The SDK's Configuration for the mock (see `sdk_for`)."""
    key = response_public_key or mock.response_public_key

    class MockConfiguration(Configuration):
        @property
        def resp_pubkey(self) -> str:
            return key

    return MockConfiguration(api_private_key=private_key_hex, host=mock.base_url, signer=signer)


_last_sdk_call = [0.0]


def paced() -> None:
    """The SDK's nonce is the wall-clock millisecond and the mock refuses a reused nonce
    per key: keep SDK calls at least 2 ms apart."""
    wait = _last_sdk_call[0] + 0.002 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    _last_sdk_call[0] = time.monotonic()


def cli(*args: str, private_key_hex: str, env: Optional[dict[str, str]] = None) -> str:
    """Runs our `cobo-oauth` command with the key in COBO_APP_PRIVATE_KEY; returns stdout."""
    environment = {**os.environ, "COBO_APP_PRIVATE_KEY": private_key_hex, **(env or {})}
    done = subprocess.run(
        [os.environ["COBO_OAUTH_CLI"], *args], env=environment, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, f"cobo-oauth {args[0]} failed: {done.stderr}"
    return done.stdout
