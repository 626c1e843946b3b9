"""The shared fault matrix (tests/faults.json): each injected fault raises the expected
exception class with the expected attributes, and no secret in its message."""

from __future__ import annotations

from typing import Any, Callable

import pytest

import cobo_oauth
from cobo_oauth import OAuthClient
from conftest import CLIENT_ID, ORG_ID, VARIANT_CLASSES, Mock, load_json

FAULTS = load_json("tests/faults.json")


def test_the_matrix_covers_both_operations_and_every_network_variant() -> None:
    assert {entry["operation"] for entry in FAULTS} == {"get", "refresh"}
    # Store, AuthorizationRequired and Internal come from the TokenManager, not from one request.
    not_network = {"InvalidKey", "InvalidArgument", "Store", "AuthorizationRequired", "Internal"}
    network_variants = set(VARIANT_CLASSES) - not_network
    assert {entry["expect"]["variant"] for entry in FAULTS} == network_variants


@pytest.mark.parametrize("entry", FAULTS, ids=lambda e: e["name"])
def test_fault(entry: dict[str, Any], make_client: Callable[..., OAuthClient], mock: Mock) -> None:
    client = make_client(**entry["client"])
    expect = dict(entry["expect"])
    cls = VARIANT_CLASSES[expect.pop("variant")]
    secrets: list[str] = []
    if entry["operation"] == "get":
        mock.fault(entry["fault"], "get")
        with pytest.raises(cobo_oauth.CoboOAuthError) as raised:
            client.get_org_token(CLIENT_ID, ORG_ID)
    else:
        token = client.get_org_token(CLIENT_ID, ORG_ID)
        secrets = [token.access_token, token.refresh_token]
        mock.fault(entry["fault"], "refresh")
        with pytest.raises(cobo_oauth.CoboOAuthError) as raised:
            client.refresh_org_token(CLIENT_ID, token.refresh_token)
    error = raised.value
    assert type(error) is cls, f"{type(error).__name__}: {error}"
    for name, value in expect.items():
        assert getattr(error, name) == value, name
    assert str(error)
    for secret in secrets:
        assert secret not in str(error) and secret not in repr(error)
    counters = mock.counters()
    assert counters[entry["operation"]] == 1, "max_retries=0: exactly one attempt"
