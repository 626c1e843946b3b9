"""Fixtures: the shared mock server (target/release/cobo-oauth-mock) driven through its
control API, an app registered with it, and clients pointed at it.

These tests run against the installed wheel; nothing here imports the source tree.
"""

from __future__ import annotations

import atexit
import json
import os
import contextlib
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import IO, Any, Callable, Iterator

import pytest

# The nonce clock and the offset to Cobo's clock are shared by every process of a host
# that uses the same clock directory (/dev/shm/cobo-oauth-<uid> by default). This suite's
# processes (and the workers they start, which inherit it) get one of their own, so that
# other test suites on this machine, and the clocks their mocks skew, cannot move ours.
if "COBO_OAUTH_CLOCK_DIR" not in os.environ:
    os.environ["COBO_OAUTH_CLOCK_DIR"] = tempfile.mkdtemp(prefix="cobo-oauth-clock-")
    atexit.register(shutil.rmtree, os.environ["COBO_OAUTH_CLOCK_DIR"], True)

import cobo_oauth  # noqa: E402  (after the clock directory is set)
from cobo_oauth import AppKey, ClientConfig, OAuthClient  # noqa: E402

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
    "Internal": cobo_oauth.InternalError,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "soak: a long multi-process run; once per `make test`, on the newest Python")


def load_json(relative: str) -> Any:
    with open(REPO / relative, encoding="utf-8") as file:
        return json.load(file)


class Mock:
    """A running cobo-oauth-mock and its control API (plain JSON over HTTP)."""

    def __init__(
        self, base_url: str, control_url: str, response_public_key: str, ca_pem: str | None = None
    ) -> None:
        self.base_url = base_url
        self.control_url = control_url
        self.response_public_key = response_public_key
        # With --tls: the throwaway CA that signed the server certificate.
        self.ca_pem = ca_pem

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


@contextlib.contextmanager
def started(args: list[str], log: IO[bytes]) -> Iterator[dict[str, Any]]:
    """Runs `cobo-oauth-mock ARGS` (the mock, or `proxy`) and yields its start line."""
    if not MOCK_BINARY.is_file():
        pytest.fail(f"{MOCK_BINARY} is missing: build it with `cargo build --release -p cobo-oauth-mock`")
    process = subprocess.Popen([str(MOCK_BINARY), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    try:
        assert process.stdout is not None
        ready: dict[str, Any] = json.loads(process.stdout.readline())
        yield ready
    finally:
        # It exits when its stdin closes.
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_mock(tmp_path_factory: pytest.TempPathFactory, *args: str) -> Iterator[Mock]:
    with open(tmp_path_factory.mktemp("mock") / "mock.log", "wb") as log, started(list(args), log) as ready:
        yield Mock(ready["base_url"], ready["control_url"], ready["response_public_key"], ready.get("ca_pem"))


@pytest.fixture(scope="session")
def mock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mock]:
    with running_mock(tmp_path_factory) as mock:
        yield mock


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


class Proxy:
    """A running `cobo-oauth-mock proxy`: an HTTP CONNECT proxy that records what it saw."""

    # Its control API is reached directly, whatever proxy the environment names.
    _direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __init__(self, proxy_url: str, control_url: str) -> None:
        self.proxy_url = proxy_url
        self.control_url = control_url

    def seen(self) -> dict[str, Any]:
        """`{"connect": [host:port...], "refused": n, "plaintext": ["METHOD host"...]}`."""
        with self._direct.open(self.control_url + "/seen", timeout=10) as response:
            seen: dict[str, Any] = json.load(response)
            return seen


@pytest.fixture
def start_proxy(tmp_path: Path) -> Iterator[Callable[..., Proxy]]:
    """Starts test proxies (`cobo-oauth-mock proxy ARGS`); all stop after the test."""
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(open(tmp_path / "proxy.log", "wb"))

        def start(*args: str) -> Proxy:
            ready = stack.enter_context(started(["proxy", *args], log))
            return Proxy(ready["proxy_url"], ready["control_url"])

        yield start


@pytest.fixture(scope="session")
def tls_mock(tmp_path_factory: pytest.TempPathFactory, app_key: AppKey) -> Iterator[Mock]:
    """A second mock serving /v2 over HTTPS (`--tls`), the test app registered."""
    with running_mock(tmp_path_factory, "--tls") as mock:
        mock.register(CLIENT_ID, app_key.api_key(), [ORG_ID])
        yield mock


# --- a strict mock (a spent refresh token presented again revokes its family) ----------

STRICT_ACCESS_TTL = 4  # seconds: access tokens of the strict mock, renewed many times a test


def redis_url() -> str:
    url = os.environ.get("COBO_OAUTH_REDIS_URL")
    if not url:
        pytest.fail("COBO_OAUTH_REDIS_URL is not set: run under tests/redis/with-redis.sh (make test-python does)")
    return url


@pytest.fixture(scope="module")
def strict_mock(tmp_path_factory: pytest.TempPathFactory, app_key: AppKey) -> Iterator[Mock]:
    with running_mock(tmp_path_factory, "--strict-rotation", "--access-ttl", str(STRICT_ACCESS_TTL)) as mock:
        mock.register(CLIENT_ID, app_key.api_key(), [ORG_ID])
        yield mock


@pytest.fixture
def strict(strict_mock: Mock) -> Mock:
    """The strict mock with zeroed counters and no queued faults."""
    strict_mock.reset()
    return strict_mock
