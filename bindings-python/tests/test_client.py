"""OAuthClient against the mock server: both operations, rotation, retries, and what is
(not) replayed."""

from __future__ import annotations

import datetime as dt
from typing import Callable

import pytest

import cobo_oauth
from cobo_oauth import AppKey, OAuthClient, OrgToken
from conftest import CLIENT_ID, ORG_ID, OTHER_ORG_ID, Mock


def assert_fresh_token(token: OrgToken, before: dt.datetime) -> None:
    assert isinstance(token, OrgToken)
    assert token.token_type == "Bearer"
    assert token.scope == ""
    assert token.expires_in == 43199
    assert isinstance(token.access_token, str) and token.access_token
    assert isinstance(token.refresh_token, str) and token.refresh_token
    assert token.expires_at.tzinfo is not None and token.expires_at.utcoffset() == dt.timedelta(0)
    expected = before + dt.timedelta(seconds=token.expires_in)
    assert expected <= token.expires_at <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=token.expires_in)


def test_get_org_token(client: OAuthClient, mock: Mock) -> None:
    before = dt.datetime.now(dt.timezone.utc)
    token = client.get_org_token(CLIENT_ID, ORG_ID)
    assert_fresh_token(token, before)
    assert mock.counters()["get"] == 1


def test_refresh_org_token_rotates(client: OAuthClient, mock: Mock) -> None:
    first = client.get_org_token(CLIENT_ID, ORG_ID)
    before = dt.datetime.now(dt.timezone.utc)
    second = client.refresh_org_token(CLIENT_ID, first.refresh_token)
    assert_fresh_token(second, before)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    # The old refresh token is spent.
    with pytest.raises(cobo_oauth.OAuthError) as raised:
        client.refresh_org_token(CLIENT_ID, first.refresh_token)
    assert raised.value.status == 400
    assert raised.value.error == "invalid_grant"
    assert raised.value.error_description
    # The new one still works, once.
    third = client.refresh_org_token(CLIENT_ID, second.refresh_token)
    assert third.refresh_token not in (first.refresh_token, second.refresh_token)
    counters = mock.counters()
    assert (counters["get"], counters["refresh"], counters["rejected"]) == (1, 3, 1)


def test_expired_refresh_token_is_invalid_grant(client: OAuthClient, mock: Mock) -> None:
    mock.set_ttls(refresh_ttl_secs=0)
    try:
        token = client.get_org_token(CLIENT_ID, ORG_ID)
    finally:
        mock.set_ttls(refresh_ttl_secs=30 * 24 * 3600)
    with pytest.raises(cobo_oauth.OAuthError) as raised:
        client.refresh_org_token(CLIENT_ID, token.refresh_token)
    assert (raised.value.status, raised.value.error) == (400, "invalid_grant")


def test_unknown_refresh_token(client: OAuthClient) -> None:
    with pytest.raises(cobo_oauth.OAuthError) as raised:
        client.refresh_org_token(CLIENT_ID, "not-a-token-the-mock-issued")
    assert (raised.value.status, raised.value.error) == (400, "invalid_grant")


def test_org_that_did_not_install_the_app(client: OAuthClient) -> None:
    with pytest.raises(cobo_oauth.OAuthError) as raised:
        client.get_org_token(CLIENT_ID, OTHER_ORG_ID)
    assert (raised.value.status, raised.value.error) == (403, "unauthorized_client")


def test_unknown_client_id(client: OAuthClient) -> None:
    with pytest.raises(cobo_oauth.OAuthError) as raised:
        client.get_org_token("no-such-client", ORG_ID)
    assert (raised.value.status, raised.value.error) == (401, "invalid_client")


def test_unregistered_key(mock: Mock) -> None:
    stranger = OAuthClient(AppKey.generate(), mock.config_for())
    with pytest.raises(cobo_oauth.OAuthError) as raised:
        stranger.get_org_token(CLIENT_ID, ORG_ID)
    assert (raised.value.status, raised.value.error) == (401, "invalid_client")


def test_wrong_response_key_rejects_every_answer(mock: Mock, app_key: AppKey) -> None:
    other_key = AppKey.generate().api_key()
    client = OAuthClient(app_key, mock.config_for(response_public_key=other_key))
    with pytest.raises(cobo_oauth.ResponseSignatureError):
        client.get_org_token(CLIENT_ID, ORG_ID)


def test_get_is_retried_after_one_server_error(make_client: Callable[..., OAuthClient], mock: Mock) -> None:
    mock.fault({"kind": "server_error", "status": 500}, "get")
    token = make_client(max_retries=1).get_org_token(CLIENT_ID, ORG_ID)
    assert token.access_token
    assert mock.counters()["get"] == 2


def test_get_is_retried_after_a_dropped_connection(make_client: Callable[..., OAuthClient], mock: Mock) -> None:
    mock.fault({"kind": "drop_connection"}, "get")
    assert make_client(max_retries=2).get_org_token(CLIENT_ID, ORG_ID).access_token
    assert mock.counters()["get"] == 2


def test_get_gives_up_after_max_retries(make_client: Callable[..., OAuthClient], mock: Mock) -> None:
    mock.fault({"kind": "server_error", "status": 502, "error_id": "abc"}, "get", count=5)
    with pytest.raises(cobo_oauth.ServerError) as raised:
        make_client(max_retries=2).get_org_token(CLIENT_ID, ORG_ID)
    assert (raised.value.status, raised.value.error_id) == (502, "abc")
    assert mock.counters()["get"] == 3


def test_oauth_errors_are_not_retried(make_client: Callable[..., OAuthClient], mock: Mock) -> None:
    mock.fault({"kind": "oauth_error", "status": 400}, "get")
    with pytest.raises(cobo_oauth.OAuthError):
        make_client(max_retries=3).get_org_token(CLIENT_ID, ORG_ID)
    assert mock.counters()["get"] == 1


def test_refresh_is_not_replayed_after_a_dropped_connection(make_client: Callable[..., OAuthClient], mock: Mock) -> None:
    client = make_client(max_retries=3)
    token = client.get_org_token(CLIENT_ID, ORG_ID)
    mock.fault({"kind": "drop_connection"}, "refresh")
    with pytest.raises(cobo_oauth.TransportError):
        client.refresh_org_token(CLIENT_ID, token.refresh_token)
    assert mock.counters()["refresh"] == 1


def test_refresh_is_not_replayed_after_a_server_error(make_client: Callable[..., OAuthClient], mock: Mock) -> None:
    client = make_client(max_retries=3)
    token = client.get_org_token(CLIENT_ID, ORG_ID)
    mock.fault({"kind": "server_error", "status": 500}, "refresh")
    with pytest.raises(cobo_oauth.ServerError):
        client.refresh_org_token(CLIENT_ID, token.refresh_token)
    assert mock.counters()["refresh"] == 1


def test_connection_refused_is_a_transport_error(app_key: AppKey, mock: Mock) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = mock.config_for(base_url=f"http://127.0.0.1:{port}/v2", max_retries=0)
    with pytest.raises(cobo_oauth.TransportError) as raised:
        OAuthClient(app_key, config).get_org_token(CLIENT_ID, ORG_ID)
    assert isinstance(raised.value, ConnectionError)
    assert raised.value.reason


def test_timeout_is_also_a_builtin_timeout_error(make_client: Callable[..., OAuthClient], mock: Mock) -> None:
    mock.fault({"kind": "delay", "delay_ms": 1000}, "get")
    with pytest.raises(TimeoutError) as raised:
        make_client(max_retries=0, timeout_ms=200).get_org_token(CLIENT_ID, ORG_ID)
    assert isinstance(raised.value, cobo_oauth.RequestTimeoutError)


def test_base_url(client: OAuthClient, mock: Mock, app_key: AppKey) -> None:
    assert client.base_url() == mock.base_url
    with_slash = OAuthClient(app_key, mock.config_for(base_url=mock.base_url + "/"))
    assert with_slash.base_url() == mock.base_url
    assert OAuthClient(app_key).base_url() == "https://api.cobo.com/v2"
    for environment, url in [
        (cobo_oauth.Environment.DEV, "https://api.dev.cobo.com/v2"),
        (cobo_oauth.Environment.SANDBOX, "https://api.sandbox.cobo.com/v2"),
        (cobo_oauth.Environment.PROD, "https://api.cobo.com/v2"),
    ]:
        config = cobo_oauth.ClientConfig(environment=environment)
        assert OAuthClient(app_key, config).base_url() == url


def test_user_agent_is_accepted(make_client: Callable[..., OAuthClient]) -> None:
    assert make_client(user_agent="my-portal-app/1.0").get_org_token(CLIENT_ID, ORG_ID).access_token


def test_absurd_token_lifetimes_are_invalid_responses(client: OAuthClient, mock: Mock) -> None:
    mock.set_ttls(access_ttl_secs=10**12)  # about 31,700 years: a broken server, not a token
    try:
        with pytest.raises(cobo_oauth.InvalidResponseError) as caught:
            client.get_org_token(CLIENT_ID, ORG_ID)
    finally:
        mock.set_ttls(access_ttl_secs=43199)
    assert caught.value.status == 200
    assert "expires_in" in caught.value.reason
