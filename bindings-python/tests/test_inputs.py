"""Bad inputs raise the right exception (never a PanicException, never a crash)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import pytest

import cobo_oauth
from cobo_oauth import AppKey, ClientConfig, Environment, OAuthClient, ResponseVerifier
from conftest import CLIENT_ID, ORG_ID, Mock

SEED = "92e6f715e9fbf16368aa5a02e5e765b13f7d9136aacd9417fdf2e90059c98fdd"
API_KEY = "eb4f24e8cbe5b5c40c6a4a0574ed1d91937971be78cd1b9e1a8e096b584697db"
MEGABYTES_10 = 10 * 1024 * 1024


@pytest.mark.parametrize(
    "text",
    [
        "é" * 64,  # 64 characters, 128 bytes
        "a" + "é" * 63 + "a",  # 128 bytes, byte 64 inside a character
        SEED[:63] + "é",
        SEED + "\u00a0",  # a non-ASCII space is not trimmed
        "０" * 64,  # full-width digits
        SEED[:32] + "\x00" + SEED[33:],
        "x" * MEGABYTES_10,
    ],
    ids=["e-acute-64", "split-char-at-64", "63-plus-e-acute", "nbsp", "fullwidth", "nul", "10MB"],
)
def test_malformed_keys(text: str) -> None:
    with pytest.raises(cobo_oauth.InvalidKeyError) as raised:
        AppKey(text)
    assert isinstance(raised.value, ValueError)
    assert text[:16] not in str(raised.value) or text[:16].strip() == ""


@pytest.mark.parametrize("value", [None, 123, b"92e6", ["92"], 1.5])
def test_key_of_the_wrong_type(value: Any) -> None:
    with pytest.raises(TypeError):
        AppKey(value)


def test_lone_surrogate_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        AppKey("\ud800" * 64)


@pytest.mark.parametrize(
    "public_key",
    ["", "00", "zz" * 32, "ab" * 33, "é" * 32, "e" * 64 + "é", "x" * MEGABYTES_10],
    ids=["empty", "short", "non-hex", "long", "non-ascii", "trailing-non-ascii", "10MB"],
)
def test_malformed_response_keys(public_key: str) -> None:
    with pytest.raises(cobo_oauth.InvalidArgumentError):
        ResponseVerifier.with_key(public_key)
    with pytest.raises(cobo_oauth.InvalidArgumentError):
        cobo_oauth.verify_webhook_with_key(b"{}", "1", "00" * 64, public_key)
    with pytest.raises(cobo_oauth.InvalidArgumentError):
        OAuthClient(AppKey(SEED), ClientConfig(base_url="https://proxy.example/v2", response_public_key=public_key))


@pytest.mark.parametrize(
    "signature", ["", "zz" * 64, "ab" * 63, "é" * 64, "00" * 64, "x" * MEGABYTES_10], ids=lambda s: f"len{len(s)}"
)
def test_malformed_signatures(signature: str) -> None:
    verifier = ResponseVerifier.with_key(API_KEY)
    with pytest.raises(cobo_oauth.ResponseSignatureError):
        verifier.verify(b"{}", "1718000000123", signature)
    with pytest.raises(cobo_oauth.ResponseSignatureError):
        cobo_oauth.verify_webhook(b"{}", "1718000000123", signature, Environment.PROD)


@pytest.mark.parametrize("body", ["{}", 123, None, memoryview(b"{}"), [1, 2]], ids=repr)
def test_verify_body_must_be_bytes(body: Any) -> None:
    with pytest.raises(TypeError):
        ResponseVerifier.with_key(API_KEY).verify(body, "1", "00" * 64)
    with pytest.raises(TypeError):
        cobo_oauth.verify_webhook(body, "1", "00" * 64, Environment.PROD)
    with pytest.raises(TypeError):
        cobo_oauth.verify_webhook_with_key(body, "1", "00" * 64, API_KEY)


def test_huge_body_is_verified_not_crashed() -> None:
    with pytest.raises(cobo_oauth.ResponseSignatureError):
        cobo_oauth.verify_webhook_with_key(b"x" * MEGABYTES_10, "1", "00" * 64, API_KEY)


@pytest.mark.parametrize("environment", ["prod", "PROD", 2, None], ids=repr)
def test_environment_must_be_the_enum(environment: Any) -> None:
    with pytest.raises(TypeError):
        ResponseVerifier(environment)
    with pytest.raises(TypeError):
        cobo_oauth.verify_webhook(b"{}", "1", "00" * 64, environment)
    if environment is not None:  # None means the default in ClientConfig
        with pytest.raises(TypeError):
            ClientConfig(environment=environment)


@pytest.mark.parametrize(
    "call",
    [
        lambda k: k.sign_request(1, "/v2/oauth/token"),
        lambda k: k.sign_request("GET", None),
        lambda k: k.sign_request("GET", "/p", b"query"),
        lambda k: k.sign_request_with_nonce("GET", "/p", "", "", 1718000000000),
        lambda k: cobo_oauth.canonical_content("GET", "/p", 1, "", ""),
        lambda k: cobo_oauth.content_digest(b"content"),
        lambda k: OAuthClient(API_KEY),
        lambda k: OAuthClient(k, {"environment": Environment.PROD}),
        lambda k: ClientConfig(timeout_ms="30000"),
        lambda k: ClientConfig(timeout_ms=1.5),
        lambda k: ClientConfig(max_retries=None),
        lambda k: ClientConfig(base_url=b"https://proxy.example/v2"),
        lambda k: ClientConfig(Environment.PROD),  # keyword-only
        lambda k: cobo_oauth.OrgToken(
            access_token="a", token_type="Bearer", scope="", expires_in=1, refresh_token="r", expires_at="2030-01-01"
        ),
    ],
    ids=[
        "method-int",
        "path-none",
        "query-bytes",
        "nonce-int",
        "canonical-int",
        "digest-bytes",
        "client-str-key",
        "client-dict-config",
        "timeout-str",
        "timeout-float",
        "retries-none",
        "base-url-bytes",
        "config-positional",
        "token-expires-at-str",
    ],
)
def test_wrong_types_are_type_errors(call: Callable[[AppKey], Any]) -> None:
    with pytest.raises(TypeError):
        call(AppKey(SEED))


@pytest.mark.parametrize(
    "overrides",
    [
        {"connect_timeout_ms": -1},
        {"timeout_ms": -5},
        {"max_retries": -1},
        {"max_retries": 2**32},
        {"retry_base_delay_ms": 2**64},
        {"retry_max_delay_ms": 10**40},
        {"timeout_ms": -(10**40)},
    ],
    ids=repr,
)
def test_integers_out_of_range(overrides: dict[str, Any]) -> None:
    with pytest.raises(cobo_oauth.InvalidArgumentError) as raised:
        ClientConfig(**overrides)
    assert next(iter(overrides)) in raised.value.reason


@pytest.mark.parametrize(
    "overrides",
    [
        {"base_url": "http://proxy.example/v2", "response_public_key": API_KEY},
        {"base_url": "ftp://127.0.0.1/v2", "response_public_key": API_KEY},
        {"base_url": "not a url", "response_public_key": API_KEY},
        {"base_url": "https://user:pw@proxy.example/v2", "response_public_key": API_KEY},
        {"base_url": "https://proxy.example/v2?x=1", "response_public_key": API_KEY},
        {"base_url": "https://proxy.example/v2"},
        {"connect_timeout_ms": 0},
        {"timeout_ms": 0},
        {"max_retries": 11},
        {"retry_base_delay_ms": 500, "retry_max_delay_ms": 100},
        {"user_agent": "evil\r\nX-Injected: 1"},
        {"user_agent": "nul\x00"},
    ],
    ids=[
        "http-remote",
        "ftp",
        "not-a-url",
        "credentials",
        "query",
        "no-response-key",
        "connect-timeout-0",
        "timeout-0",
        "retries-11",
        "base-over-max",
        "ua-crlf",
        "ua-nul",
    ],
)
def test_unusable_configurations(overrides: dict[str, Any]) -> None:
    config = ClientConfig(**overrides)  # a record: checked when a client is made
    with pytest.raises(cobo_oauth.InvalidArgumentError) as raised:
        OAuthClient(AppKey(SEED), config)
    assert isinstance(raised.value, ValueError)
    assert raised.value.reason


@pytest.mark.parametrize("client_id, org_id", [("", ORG_ID), (CLIENT_ID, ""), ("  ", ORG_ID), (CLIENT_ID, "\t\n")])
def test_empty_ids_send_nothing(client: OAuthClient, mock: Mock, client_id: str, org_id: str) -> None:
    with pytest.raises(cobo_oauth.InvalidArgumentError):
        client.get_org_token(client_id, org_id)
    with pytest.raises(cobo_oauth.InvalidArgumentError):
        client.refresh_org_token(client_id, org_id)  # org_id standing in for a blank refresh token
    assert mock.counters()["total"] == 0


@pytest.mark.parametrize("value", [None, 42, b"id"], ids=repr)
def test_id_of_the_wrong_type(client: OAuthClient, value: Any) -> None:
    with pytest.raises(TypeError):
        client.get_org_token(value, ORG_ID)
    with pytest.raises(TypeError):
        client.get_org_token(CLIENT_ID, value)
    with pytest.raises(TypeError):
        client.refresh_org_token(CLIENT_ID, value)


@pytest.mark.parametrize("operation", ["get_client_id", "get_org_id", "refresh_client_id", "refresh_token"])
def test_huge_arguments_are_refused_before_sending(client: OAuthClient, mock: Mock, operation: str) -> None:
    huge = "c" * MEGABYTES_10
    calls = {
        "get_client_id": lambda: client.get_org_token(huge, ORG_ID),
        "get_org_id": lambda: client.get_org_token(CLIENT_ID, huge),
        "refresh_client_id": lambda: client.refresh_org_token(huge, "a-refresh-token"),
        "refresh_token": lambda: client.refresh_org_token(CLIENT_ID, huge),
    }
    with pytest.raises(cobo_oauth.InvalidArgumentError) as raised:
        calls[operation]()
    assert "longer than" in raised.value.reason
    assert huge[:64] not in str(raised.value)
    assert mock.counters()["total"] == 0


def test_arguments_just_under_the_cap_reach_the_server(client: OAuthClient) -> None:
    with pytest.raises(cobo_oauth.OAuthError) as raised:
        client.get_org_token(CLIENT_ID, "o" * 4096)
    assert raised.value.status == 403


def test_ids_with_special_characters_reach_the_server(client: OAuthClient) -> None:
    # Encoded on the wire and signed as sent: the mock answers, it does not reject the signature.
    with pytest.raises(cobo_oauth.OAuthError) as raised:
        client.get_org_token(CLIENT_ID, "org id&x=1/é|\x00")
    assert (raised.value.status, raised.value.error) == (403, "unauthorized_client")


def test_huge_strings_sign_and_digest() -> None:
    body = "b" * MEGABYTES_10
    signed = AppKey(SEED).sign_request("POST", "/v2/oauth/token", "", body)
    assert len(signed.content) > MEGABYTES_10
    assert signed.digest == cobo_oauth.content_digest(signed.content)


def test_naive_expires_at_is_refused() -> None:
    with pytest.raises(cobo_oauth.InvalidArgumentError):
        cobo_oauth.OrgToken(
            access_token="a",
            token_type="Bearer",
            scope="",
            expires_in=1,
            refresh_token="r",
            expires_at=dt.datetime(2030, 1, 1),
        )


def test_the_largest_timeouts_work(make_client: Callable[..., OAuthClient]) -> None:
    client = make_client(timeout_ms=2**64 - 1, connect_timeout_ms=2**64 - 1)
    assert client.get_org_token(CLIENT_ID, ORG_ID).access_token
