"""cobo_oauth.waas2: the official SDK's generated API classes calling the mock's protected
endpoint (/v2/wallets) with our TokenManager's token. The SDK signs (the mock checks its
signature over what arrived) and verifies the answers; the adapter adds the token."""

from __future__ import annotations

import time
from typing import Iterator

import pytest
from cobo_waas2 import ApiClient, WalletsApi
from cobo_waas2.exceptions import ApiException

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
