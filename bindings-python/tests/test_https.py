"""HTTPS end to end against the TLS mock (`cobo-oauth-mock --tls`): trust (the mock's CA
via extra_ca_pem, wrong host, expired), proxies through the test CONNECT proxy, proxy
credentials kept out of errors and reprs. The environment's proxy and trust variables
are process-global: those cases run in a child interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from cobo_oauth import (
    AppKey,
    ClientConfig,
    InvalidArgumentError,
    OAuthClient,
    ServerError,
    TokenManager,
    TransportError,
)
from conftest import CLIENT_ID, ORG_ID, Mock, Proxy, load_json, running_mock

FAULTS = {entry["name"]: entry for entry in load_json("tests/faults.json")}


@pytest.fixture
def tls(tls_mock: Mock) -> Mock:
    tls_mock.reset()
    return tls_mock


def https_config(mock: Mock, **overrides: Any) -> ClientConfig:
    """Pointed at `mock` and trusting its CA."""
    return mock.config_for(extra_ca_pem=mock.ca_pem, **overrides)


def authority(mock: Mock) -> str:
    return mock.base_url.removeprefix("https://").removesuffix("/v2")


def test_get_and_refresh_over_https(tls: Mock, app_key: AppKey) -> None:
    assert tls.base_url.startswith("https://127.0.0.1:")
    client = OAuthClient(app_key, https_config(tls))
    token = client.get_org_token(CLIENT_ID, ORG_ID)
    fresh = client.refresh_org_token(CLIENT_ID, token.refresh_token)
    assert fresh.refresh_token != token.refresh_token
    assert tls.counters()["issued"] == 2


def test_token_manager_over_https(tls: Mock, app_key: AppKey) -> None:
    manager = TokenManager(OAuthClient(app_key, https_config(tls)), CLIENT_ID)
    assert manager.authorization_header(ORG_ID).startswith("Bearer ")
    assert tls.counters()["get"] == 1


def test_two_matrix_faults_over_https(tls: Mock, app_key: AppKey) -> None:
    client = OAuthClient(app_key, https_config(tls, max_retries=0))
    server_error = FAULTS["refresh_server_error_500"]
    token = client.get_org_token(CLIENT_ID, ORG_ID)
    tls.fault(server_error["fault"], "refresh")
    with pytest.raises(ServerError) as raised:
        client.refresh_org_token(CLIENT_ID, token.refresh_token)
    assert raised.value.status == server_error["expect"]["status"]

    truncated = FAULTS["get_truncated_body"]
    assert truncated["expect"]["variant"] == "Transport"
    tls.fault(truncated["fault"], "get")
    with pytest.raises(TransportError):
        client.get_org_token(CLIENT_ID, ORG_ID)


def test_without_the_ca_the_certificate_is_an_unknown_issuer(tls: Mock, app_key: AppKey) -> None:
    with pytest.raises(TransportError) as raised:
        OAuthClient(app_key, tls.config_for(max_retries=0)).get_org_token(CLIENT_ID, ORG_ID)
    assert "invalid peer certificate: UnknownIssuer" in raised.value.reason
    assert tls.counters()["total"] == 0


@pytest.mark.parametrize(
    ("flag", "says"),
    [("--tls-wrong-host", "not valid for name"), ("--tls-expired", "certificate expired")],
)
def test_bad_server_certificates_are_refused(
    flag: str, says: str, tmp_path_factory: pytest.TempPathFactory, app_key: AppKey
) -> None:
    with running_mock(tmp_path_factory, flag) as mock:
        mock.register(CLIENT_ID, app_key.api_key(), [ORG_ID])
        with pytest.raises(TransportError) as raised:
            OAuthClient(app_key, https_config(mock, max_retries=0)).get_org_token(CLIENT_ID, ORG_ID)
    assert "invalid peer certificate" in raised.value.reason and says in raised.value.reason


@pytest.mark.parametrize(
    "pem",
    ["not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
)
def test_unusable_ca_pem_is_refused_at_construction(pem: str, tls: Mock, app_key: AppKey) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        OAuthClient(app_key, tls.config_for(extra_ca_pem=pem))
    assert raised.value.reason.startswith("extra_ca_pem: "), raised.value.reason


def test_an_explicit_proxy_tunnels_without_clear_text(
    tls: Mock, app_key: AppKey, start_proxy: Callable[..., Proxy]
) -> None:
    proxy = start_proxy()
    client = OAuthClient(app_key, https_config(tls, proxy_url=proxy.proxy_url))
    token = client.get_org_token(CLIENT_ID, ORG_ID)
    client.refresh_org_token(CLIENT_ID, token.refresh_token)
    seen = proxy.seen()
    assert seen["connect"] and set(seen["connect"]) == {authority(tls)}
    assert seen["plaintext"] == []


@pytest.mark.parametrize("status", ["403", "407"])
def test_a_refusing_proxy_is_a_transport_error(
    status: str, tls: Mock, app_key: AppKey, start_proxy: Callable[..., Proxy]
) -> None:
    proxy = start_proxy("--refuse", status)
    client = OAuthClient(app_key, https_config(tls, proxy_url=proxy.proxy_url, max_retries=0))
    with pytest.raises(TransportError):
        client.get_org_token(CLIENT_ID, ORG_ID)
    assert proxy.seen()["refused"] == 1
    assert tls.counters()["total"] == 0


def test_proxy_credentials_never_show(tls: Mock, app_key: AppKey, start_proxy: Callable[..., Proxy]) -> None:
    proxy = start_proxy("--credentials", "app:right-pw")
    url = proxy.proxy_url.replace("http://", "http://app:{}@")
    OAuthClient(app_key, https_config(tls, proxy_url=url.format("right-pw"))).get_org_token(CLIENT_ID, ORG_ID)
    config = https_config(tls, proxy_url=url.format("wr0ng-pw"), max_retries=0)
    assert config.proxy_url == url.format("wr0ng-pw")
    assert "wr0ng-pw" not in repr(config)
    with pytest.raises(TransportError) as raised:
        OAuthClient(app_key, config).get_org_token(CLIENT_ID, ORG_ID)
    assert "wr0ng-pw" not in str(raised.value) and "wr0ng-pw" not in repr(raised.value)
    assert proxy.seen()["refused"] == 1


# --- the environment's settings, in a child interpreter ------------------------------

CHILD = """
import json, os
from cobo_oauth import AppKey, ClientConfig, CoboOAuthError, OAuthClient
config = ClientConfig(base_url=os.environ["T_BASE_URL"], response_public_key=os.environ["T_RESPONSE_KEY"], max_retries=0)
try:
    client = OAuthClient(AppKey(os.environ["T_APP_KEY"]), config)
    client.get_org_token(os.environ["T_CLIENT_ID"], os.environ["T_ORG_ID"])
    print(json.dumps({"ok": True}))
except CoboOAuthError as error:
    print(json.dumps({"ok": False, "error": type(error).__name__, "message": str(error)}))
"""

PROXY_AND_TRUST = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"]


@pytest.fixture
def get_in_child(app_key: AppKey, tmp_path: Path) -> Iterator[Callable[..., dict[str, Any]]]:
    """Runs one get_org_token against `mock` in a child interpreter with `env` as its
    only proxy and trust settings."""

    def run(mock: Mock, **env: str) -> dict[str, Any]:
        child_env = {k: v for k, v in os.environ.items() if k.upper() not in PROXY_AND_TRUST}
        child_env.update(
            T_BASE_URL=mock.base_url,
            T_RESPONSE_KEY=mock.response_public_key,
            T_APP_KEY=app_key.private_key_hex(),
            T_CLIENT_ID=CLIENT_ID,
            T_ORG_ID=ORG_ID,
            **env,
        )
        out = subprocess.run(
            [sys.executable, "-c", CHILD], env=child_env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        result: dict[str, Any] = json.loads(out.stdout)
        return result

    yield run


def ca_file(mock: Mock, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    path.write_text(mock.ca_pem or "")
    return str(path)


def test_ssl_cert_file_is_the_platform_trust_store(
    tls: Mock, tmp_path: Path, get_in_child: Callable[..., dict[str, Any]]
) -> None:
    assert get_in_child(tls, SSL_CERT_FILE=ca_file(tls, tmp_path)) == {"ok": True}
    refused = get_in_child(tls)
    assert refused["error"] == "TransportError" and "UnknownIssuer" in refused["message"]


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_the_environments_proxy_tunnels_https(
    variable: str,
    tls: Mock,
    tmp_path: Path,
    start_proxy: Callable[..., Proxy],
    get_in_child: Callable[..., dict[str, Any]],
) -> None:
    proxy = start_proxy()
    env = {"SSL_CERT_FILE": ca_file(tls, tmp_path), variable: proxy.proxy_url}
    assert get_in_child(tls, **env) == {"ok": True}
    seen = proxy.seen()
    assert seen["connect"] == [authority(tls)] and seen["plaintext"] == []


def test_no_proxy_bypasses_the_environments_proxy(
    tls: Mock, tmp_path: Path, start_proxy: Callable[..., Proxy], get_in_child: Callable[..., dict[str, Any]]
) -> None:
    proxy = start_proxy("--refuse", "403")
    env = {"SSL_CERT_FILE": ca_file(tls, tmp_path), "HTTPS_PROXY": proxy.proxy_url, "NO_PROXY": "127.0.0.1"}
    assert get_in_child(tls, **env) == {"ok": True}
    assert proxy.seen() == {"connect": [], "refused": 0, "plaintext": []}


def test_plain_http_loopback_never_uses_the_environments_proxy(
    mock: Mock, start_proxy: Callable[..., Proxy], get_in_child: Callable[..., dict[str, Any]]
) -> None:
    proxy = start_proxy()
    url = proxy.proxy_url
    assert get_in_child(mock, ALL_PROXY=url, HTTP_PROXY=url, http_proxy=url) == {"ok": True}
    assert proxy.seen() == {"connect": [], "refused": 0, "plaintext": []}


def test_proxy_credentials_from_the_environment_never_show(
    tls: Mock, tmp_path: Path, start_proxy: Callable[..., Proxy], get_in_child: Callable[..., dict[str, Any]]
) -> None:
    proxy = start_proxy("--credentials", "app:right-pw")
    url = proxy.proxy_url.replace("http://", "http://app:{}@")
    cert = ca_file(tls, tmp_path)
    assert get_in_child(tls, SSL_CERT_FILE=cert, HTTPS_PROXY=url.format("right-pw")) == {"ok": True}
    refused = get_in_child(tls, SSL_CERT_FILE=cert, HTTPS_PROXY=url.format("wr0ng-pw"))
    assert refused["error"] == "TransportError" and "wr0ng-pw" not in refused["message"]
