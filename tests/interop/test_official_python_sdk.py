"""Cobo's official Python SDK (cobo-waas2) as an independent peer.

- Requests: the SDK's OAuthApi.get_token / refresh_token succeed against our mock server,
  which checks the SDK's real CoboAuth signatures and nonces, and the SDK verifies the
  mock's response signatures with the mock's key.
- Signatures: for the same key, request and nonce, `cobo-oauth sign` prints exactly the
  headers the SDK's SignHelper makes, and the SDK's SignHelper.verify accepts ours.
A failure here means one side is wrong about the protocol.
"""

from __future__ import annotations

import json
import os
import tempfile
from types import SimpleNamespace
from typing import Optional
from urllib.parse import parse_qsl, urlencode

import pytest
from cobo_waas2 import RefreshTokenRequest
from cobo_waas2.crypto.local_ed25519_signer import LocalEd25519Signer
from cobo_waas2.crypto.signing_helper import SignHelper
from cobo_waas2.exceptions import ApiException
from conftest import ORG_ID, App, Mock, cli, paced, sdk_for

SANDBOX_RESPONSE_KEY = "893d8a6112ae22429a7453599256391d7928e16870ecab888ee3ce65febada08"
DEFAULT_EXPIRES_IN = 43199  # the mock's default access token lifetime


def refresh_request(app: App, refresh_token: str) -> RefreshTokenRequest:
    return RefreshTokenRequest(client_id=app.client_id, grant_type="refresh_token", refresh_token=refresh_token)


# ---------------------------------------------------------------------------------------
# The SDK's requests against our mock server


def test_sdk_gets_an_org_token(mock: Mock, app: App) -> None:
    paced()
    response = sdk_for(mock, app.private_key_hex).get_token_with_http_info(app.client_id, ORG_ID, "org_implicit")

    assert response.status_code == 200
    token = response.data
    assert token.token_type == "Bearer"
    assert token.scope == ""
    assert token.expires_in == DEFAULT_EXPIRES_IN
    assert len(token.access_token) >= 16 and len(token.refresh_token) >= 16
    assert token.access_token != token.refresh_token
    assert mock.counters() == {"total": 1, "get": 1, "refresh": 0, "rejected": 0, "faulted": 0, "issued": 1, "spent_refusals": 0, "reuse_detections": 0, "protected_accepted": 0, "protected_refused": 0, "nonce_reuses": 0, "nonce_out_of_window": 0}


def test_sdk_refreshes_and_the_old_refresh_token_is_spent(mock: Mock, app: App) -> None:
    sdk = sdk_for(mock, app.private_key_hex)
    paced()
    first = sdk.get_token(app.client_id, ORG_ID, "org_implicit")
    paced()
    response = sdk.refresh_token_with_http_info(refresh_request(app, first.refresh_token))

    assert response.status_code == 201
    second = response.data
    assert second.token_type == "Bearer" and second.expires_in == DEFAULT_EXPIRES_IN
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token  # rotated

    paced()
    with pytest.raises(ApiException) as replay:
        sdk.refresh_token(refresh_request(app, first.refresh_token))
    assert replay.value.status == 400
    assert json.loads(replay.value.body)["error"] == "invalid_grant"
    assert mock.counters() == {"total": 3, "get": 1, "refresh": 2, "rejected": 1, "faulted": 0, "issued": 2, "spent_refusals": 1, "reuse_detections": 0, "protected_accepted": 0, "protected_refused": 0, "nonce_reuses": 0, "nonce_out_of_window": 0}


def test_sdk_and_cobo_oauth_share_one_token_chain(mock: Mock, app: App) -> None:
    """Our client gets a pair, the SDK refreshes it, our client refreshes the SDK's."""
    target = ["--base-url", mock.base_url, "--response-key", mock.response_public_key, "--client-id", app.client_id]
    ours = json.loads(cli("token", "get", *target, "--org-id", ORG_ID, private_key_hex=app.private_key_hex))
    assert ours["token_type"] == "Bearer"

    paced()
    theirs = sdk_for(mock, app.private_key_hex).refresh_token(refresh_request(app, ours["refresh_token"]))
    assert theirs.refresh_token != ours["refresh_token"]

    paced()
    again = json.loads(cli("token", "refresh", *target, private_key_hex=app.private_key_hex,
                           env={"COBO_REFRESH_TOKEN": theirs.refresh_token}))
    assert again["refresh_token"] not in (ours["refresh_token"], theirs.refresh_token)
    assert mock.counters() == {"total": 3, "get": 1, "refresh": 2, "rejected": 0, "faulted": 0, "issued": 3, "spent_refusals": 0, "reuse_detections": 0, "protected_accepted": 0, "protected_refused": 0, "nonce_reuses": 0, "nonce_out_of_window": 0}


class ForgingSigner(LocalEd25519Signer):
    """Claims the registered API key but signs with another key."""

    def __init__(self, claimed_api_key: str) -> None:
        super().__init__(LocalEd25519Signer.generate_key_pair()[0])
        self.claimed = claimed_api_key

    def get_public_key(self) -> str:
        return self.claimed


def test_mock_checks_the_sdks_signatures(mock: Mock, app: App) -> None:
    """So the successes above mean the SDK's signatures verified."""
    paced()
    with pytest.raises(ApiException) as forged:
        sdk_for(mock, signer=ForgingSigner(app.api_key)).get_token(app.client_id, ORG_ID, "org_implicit")
    assert forged.value.status == 401
    assert json.loads(forged.value.body) == {"error": "invalid_client", "error_description": "signature verification failed", "error_code": 2024}
    assert mock.counters()["issued"] == 0


def test_mock_refuses_a_reused_sdk_nonce(mock: Mock, app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's nonce is the wall-clock millisecond: two calls in one millisecond collide."""
    import cobo_waas2.crypto.signing_helper as signing_helper

    frozen = signing_helper.time.time()
    monkeypatch.setattr(signing_helper, "time", SimpleNamespace(time=lambda: frozen))
    sdk = sdk_for(mock, app.private_key_hex)
    sdk.get_token(app.client_id, ORG_ID, "org_implicit")
    with pytest.raises(ApiException) as reused:
        sdk.get_token(app.client_id, ORG_ID, "org_implicit")
    assert reused.value.status == 401
    assert json.loads(reused.value.body)["error_description"] == "Biz-Api-Nonce has already been used"


# ---------------------------------------------------------------------------------------
# The SDK's response verification against the mock's signatures


def test_sdk_refuses_the_mock_under_another_key(mock: Mock, app: App) -> None:
    """So the successes above mean the SDK verified the mock's signatures with its key."""
    paced()
    with pytest.raises(ApiException, match="Invalid resp signature"):
        sdk_for(mock, app.private_key_hex, response_public_key=SANDBOX_RESPONSE_KEY).get_token(
            app.client_id, ORG_ID, "org_implicit"
        )
    assert mock.counters()["issued"] == 1  # the mock did answer


@pytest.mark.parametrize(
    ("fault", "message"),
    [("bad_signature", "Invalid resp signature"), ("missing_signature", "Missing resp signature or timestamp")],
)
def test_sdk_refuses_the_mocks_signature_faults(mock: Mock, app: App, fault: str, message: str) -> None:
    mock.control("/faults", {"fault": {"kind": fault}, "count": 1, "operation": "get"})
    paced()
    with pytest.raises(ApiException, match=message):
        sdk_for(mock, app.private_key_hex).get_token(app.client_id, ORG_ID, "org_implicit")
    assert mock.counters()["faulted"] == 1


# ---------------------------------------------------------------------------------------
# Our signatures against the SDK's signing helper

SEED = "92e6f715e9fbf16368aa5a02e5e765b13f7d9136aacd9417fdf2e90059c98fdd"
REFRESH_BODY = {"client_id": "pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij", "grant_type": "refresh_token",
                "refresh_token": "rK49jI0zt49gsttzscscik15Asmlpu1TdcxqguJJS8B9f6ilJEC0y3PbVqwsEAw5"}

# (method, path, query params as the SDK takes them, body as the SDK sends it, nonce)
REQUESTS = {
    "get_org_token": ("GET", "/v2/oauth/token",
                      {"client_id": "pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij", "org_id": ORG_ID, "grant_type": "org_implicit"},
                      None, "1718000000000"),
    # The body exactly as the SDK's ApiClient makes it: json.dumps of the model's dict.
    "refresh_org_token": ("POST", "/v2/oauth/token", None, json.dumps(REFRESH_BODY).encode(), "1718000000001"),
    "no_query_no_body": ("GET", "/v2/wallets", None, None, "1"),
    "lower_case_method": ("get", "/v2/wallets", {"limit": "10"}, None, "1718000000002"),
    "query_needing_escapes": ("GET", "/v2/wallets", {"q": "a b&c=d/é+", "empty": ""}, None, "1718000000003"),
    "non_ascii_body": ("POST", "/v2/transactions/transfer", None,
                       json.dumps({"memo": "付款 ✓", "note": "a|b||c|"}, ensure_ascii=False).encode(), "1718000000004"),
    "query_and_body": ("POST", "/v2/wallets", {"dry_run": "true"}, b'{"k":"v"}', "1718000000005"),
}


def cobo_oauth_sign(seed: str, method: str, path: str, query: str, body: bytes, nonce: str) -> dict[str, str]:
    """The three headers from `cobo-oauth sign` (the Rust core), the body via a file."""
    with tempfile.NamedTemporaryFile() as body_file:
        body_file.write(body)
        body_file.flush()
        out = cli("sign", "--method", method, "--path", path, "--query", query, "--body-file", body_file.name,
                  "--nonce", nonce, private_key_hex=seed)
    headers = dict(line.split(": ", 1) for line in out.splitlines() if line.startswith("Biz-Api-"))
    assert set(headers) == {"Biz-Api-Key", "Biz-Api-Nonce", "Biz-Api-Signature"}, out
    return headers


def sdk_sign(seed: str, method: str, path: str, params: Optional[dict[str, str]], body: Optional[bytes],
             nonce: str) -> dict[str, str]:
    """The headers SignHelper.generate_headers would make, at a chosen nonce."""
    signature, api_key = SignHelper.sign(LocalEd25519Signer(seed), method, path, nonce, params=params, body=body)
    return {"Biz-Api-Key": api_key, "Biz-Api-Nonce": nonce, "Biz-Api-Signature": signature}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_signatures_equal_the_sdks(name: str) -> None:
    method, path, params, body, nonce = REQUESTS[name]
    query = urlencode(params or {})  # what the SDK puts on the wire and signs
    ours = cobo_oauth_sign(SEED, method, path, query, body or b"", nonce)

    assert ours == sdk_sign(SEED, method, path, params, body, nonce)
    content = "|".join((method.upper(), path, nonce, query, (body or b"").decode()))
    assert SignHelper.verify(ours["Biz-Api-Key"], ours["Biz-Api-Signature"], content)
    assert not SignHelper.verify(ours["Biz-Api-Key"], ours["Biz-Api-Signature"], content + " ")


def vectors() -> list[dict[str, str]]:
    with open(os.environ["COBO_OAUTH_VECTORS"], encoding="utf-8") as file:
        return json.load(file)["cases"]


@pytest.mark.parametrize("case", vectors(), ids=lambda case: case["name"])
def test_vector_signatures_verify_with_the_sdk(case: dict[str, str]) -> None:
    """Every shared signing vector: ours verifies with SignHelper.verify, and equals
    SignHelper.sign where the SDK can send that query (it url-encodes a dict with
    urlencode, so e.g. `%20` for a space is not something it sends)."""
    body = case["body"].encode()
    ours = cobo_oauth_sign(case["private_key_hex"], case["method"], case["path"], case["query"], body, case["nonce"])

    assert ours["Biz-Api-Key"] == LocalEd25519Signer(case["private_key_hex"]).get_public_key()
    assert SignHelper.verify(ours["Biz-Api-Key"], ours["Biz-Api-Signature"], case["content"])
    params = dict(parse_qsl(case["query"], keep_blank_values=True))
    if urlencode(params) == case["query"]:
        assert ours == sdk_sign(case["private_key_hex"], case["method"], case["path"], params, body or None, case["nonce"])
