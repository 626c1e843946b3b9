"""Keys and tokens never appear in the repr or str of any object or exception; records
are immutable; exceptions carry their fields and survive pickling."""

from __future__ import annotations

import pickle
import re

import pytest

import cobo_oauth
from cobo_oauth import AppKey, ClientConfig, OAuthClient, OrgToken, ResponseVerifier
from conftest import CLIENT_ID, ORG_ID, Mock


def shown(obj: object) -> str:
    return repr(obj) + str(obj) + format(obj)


def test_app_key_shows_only_the_api_key(app_key: AppKey) -> None:
    text = shown(app_key)
    assert app_key.api_key() in text
    assert app_key.private_key_hex() not in text
    assert repr(app_key) == f"AppKey(api_key='{app_key.api_key()}')"
    with pytest.raises(TypeError):
        pickle.dumps(app_key)


def test_a_whole_session_leaks_nothing(client: OAuthClient, app_key: AppKey, mock: Mock) -> None:
    first = client.get_org_token(CLIENT_ID, ORG_ID)
    second = client.refresh_org_token(CLIENT_ID, first.refresh_token)
    with pytest.raises(cobo_oauth.OAuthError) as spent:
        client.refresh_org_token(CLIENT_ID, first.refresh_token)
    body = '{"client_id":"%s","grant_type":"refresh_token","refresh_token":"%s"}' % (CLIENT_ID, second.refresh_token)
    signed = app_key.sign_request("POST", "/v2/oauth/token", "", body)
    secrets = [app_key.private_key_hex(), first.access_token, first.refresh_token, second.access_token, second.refresh_token]
    objects: list[object] = [
        app_key,
        client,
        first,
        second,
        signed,
        mock.config_for(),
        ResponseVerifier.with_key(mock.response_public_key),
        spent.value,
    ]
    for obj in objects:
        text = shown(obj)
        for secret in secrets:
            assert secret not in text, type(obj).__name__
        if isinstance(obj, BaseException):
            assert all(secret not in str(arg) for arg in obj.args for secret in secrets)
            assert all(secret not in str(v) for v in vars(obj).values() for secret in secrets)


def test_org_token_repr_elides_the_tokens(client: OAuthClient) -> None:
    token = client.get_org_token(CLIENT_ID, ORG_ID)
    assert re.fullmatch(
        r"OrgToken\(access_token='…', token_type='Bearer', scope='', expires_in=43199, refresh_token='…', "
        r"expires_at=datetime\.datetime\(.*tzinfo=datetime\.timezone\.utc\)\)",
        repr(token),
    )


def test_key_errors_do_not_echo_the_key() -> None:
    seed = "92e6f715e9fbf16368aa5a02e5e765b13f7d9136aacd9417fdf2e90059c98fdd"
    for bad in [seed[:-1] + "g", seed[:-1], seed + "0", seed + "90c5b28926bfe0ce7417187d258657f8281bfb9ff9b0ba63cd5adb475661b42a"]:
        with pytest.raises(cobo_oauth.InvalidKeyError) as raised:
            AppKey(bad)
        assert seed[:8] not in shown(raised.value) and seed[-8:] not in shown(raised.value)


def test_records_are_immutable(client: OAuthClient, app_key: AppKey) -> None:
    token = client.get_org_token(CLIENT_ID, ORG_ID)
    signed = app_key.sign_request("GET", "/v2/oauth/token")
    config = ClientConfig()
    for obj, name in [(token, "access_token"), (signed, "signature"), (config, "max_retries"), (app_key, "api_key")]:
        with pytest.raises(AttributeError):
            setattr(obj, name, "changed")
        with pytest.raises(AttributeError):
            obj.new_attribute = 1  # type: ignore[attr-defined]


def test_records_compare_and_hash_by_value() -> None:
    assert ClientConfig() == ClientConfig()
    assert ClientConfig(max_retries=3) != ClientConfig()
    assert len({ClientConfig(), ClientConfig(), ClientConfig(timeout_ms=1)}) == 2
    key = AppKey("92e6f715e9fbf16368aa5a02e5e765b13f7d9136aacd9417fdf2e90059c98fdd")
    a = key.sign_request_with_nonce("GET", "/p", "", "", "1")
    b = key.sign_request_with_nonce("GET", "/p", "", "", "1")
    assert a == b and hash(a) == hash(b)
    assert a != key.sign_request_with_nonce("GET", "/p", "", "", "2")
    assert a == cobo_oauth.SignedRequest(
        api_key=a.api_key, nonce=a.nonce, signature=a.signature, content=a.content, digest=a.digest
    )


def test_org_token_record_round_trips(client: OAuthClient) -> None:
    token = client.get_org_token(CLIENT_ID, ORG_ID)
    copy = OrgToken(
        access_token=token.access_token,
        token_type=token.token_type,
        scope=token.scope,
        expires_in=token.expires_in,
        refresh_token=token.refresh_token,
        expires_at=token.expires_at,
    )
    assert copy == token and hash(copy) == hash(token)
    assert copy != client.get_org_token(CLIENT_ID, ORG_ID)


@pytest.mark.parametrize(
    "error",
    [
        cobo_oauth.OAuthError("m", status=400, error="invalid_grant", error_description="spent"),
        cobo_oauth.ServerError("m", status=500, error_code=12001, error_message="boom", error_id="abc"),
        cobo_oauth.RequestTimeoutError("m", reason="slow"),
        cobo_oauth.TransportError("m", reason="reset"),
        cobo_oauth.InvalidKeyError("m", reason="short"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_exceptions_pickle_with_their_fields(error: cobo_oauth.CoboOAuthError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error) == "m"
    assert vars(copy) == vars(error)


def test_exceptions_have_builtin_bases() -> None:
    assert issubclass(cobo_oauth.InvalidKeyError, ValueError)
    assert issubclass(cobo_oauth.InvalidArgumentError, ValueError)
    assert issubclass(cobo_oauth.RequestTimeoutError, TimeoutError)
    assert issubclass(cobo_oauth.TransportError, ConnectionError)
    for cls in [cobo_oauth.OAuthError, cobo_oauth.ServerError, cobo_oauth.UnavailableError]:
        assert not issubclass(cls, (ValueError, OSError))
