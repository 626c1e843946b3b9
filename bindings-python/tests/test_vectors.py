"""The shared vectors (tests/vectors/*.json), made by an independent PyNaCl + hashlib
implementation: signing, key parsing, response and webhook verification."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

import cobo_oauth
from cobo_oauth import AppKey, ResponseVerifier
from conftest import load_json

SIGNING = load_json("tests/vectors/signing.json")["cases"]
KEYS = load_json("tests/vectors/keys.json")["cases"]
VERIFY = load_json("tests/vectors/verify.json")["cases"]


def by_name(case: dict[str, Any]) -> str:
    return str(case["name"])


@pytest.mark.parametrize("case", SIGNING, ids=by_name)
def test_signing(case: dict[str, Any]) -> None:
    key = AppKey(case["private_key_hex"])
    assert key.api_key() == case["api_key"]
    signed = key.sign_request_with_nonce(case["method"], case["path"], case["query"], case["body"], case["nonce"])
    assert signed.api_key == case["api_key"]
    assert signed.nonce == case["nonce"]
    assert signed.content == case["content"]
    assert signed.digest == case["digest"]
    assert signed.signature == case["signature"]


@pytest.mark.parametrize("case", SIGNING, ids=by_name)
def test_canonical_content_and_digest(case: dict[str, Any]) -> None:
    content = cobo_oauth.canonical_content(case["method"], case["path"], case["nonce"], case["query"], case["body"])
    assert content == case["content"]
    assert cobo_oauth.content_digest(content) == case["digest"]


@pytest.mark.parametrize("case", KEYS, ids=by_name)
def test_key_parsing(case: dict[str, Any]) -> None:
    if case["valid"]:
        key = AppKey(case["input"])
        assert key.api_key() == case["api_key"]
        # The stored seed round-trips to the same key.
        assert AppKey(key.private_key_hex()).api_key() == case["api_key"]
    else:
        assert case["error"] == "InvalidKey"
        with pytest.raises(cobo_oauth.InvalidKeyError) as raised:
            AppKey(case["input"])
        assert raised.value.reason
        assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("case", VERIFY, ids=by_name)
def test_response_verifier(case: dict[str, Any]) -> None:
    verifier = ResponseVerifier.with_key(case["public_key_hex"])
    body = case["body"].encode()
    if case["valid"]:
        assert verifier.verify(body, case["timestamp"], case["signature"]) is None
        assert verifier.verify(bytearray(body), case["timestamp"], case["signature"]) is None
    else:
        with pytest.raises(cobo_oauth.ResponseSignatureError) as raised:
            verifier.verify(body, case["timestamp"], case["signature"])
        assert raised.value.reason


@pytest.mark.parametrize("case", VERIFY, ids=by_name)
def test_verify_webhook_with_key(case: dict[str, Any]) -> None:
    args = (case["body"].encode(), case["timestamp"], case["signature"], case["public_key_hex"])
    if case["valid"]:
        assert cobo_oauth.verify_webhook_with_key(*args) is None
    else:
        with pytest.raises(cobo_oauth.ResponseSignatureError):
            cobo_oauth.verify_webhook_with_key(*args)


@pytest.mark.parametrize("environment", list(cobo_oauth.Environment), ids=lambda e: e.name)
def test_environment_keys_reject_a_foreign_signature(environment: cobo_oauth.Environment) -> None:
    # The vectors are signed with a test key, never with Cobo's: every environment refuses them.
    case = next(c for c in VERIFY if c["valid"])
    with pytest.raises(cobo_oauth.ResponseSignatureError):
        cobo_oauth.verify_webhook(case["body"].encode(), case["timestamp"], case["signature"], environment)
    with pytest.raises(cobo_oauth.ResponseSignatureError):
        ResponseVerifier(environment).verify(case["body"].encode(), case["timestamp"], case["signature"])


def test_sign_request_uses_a_fresh_increasing_nonce() -> None:
    key = AppKey(SIGNING[0]["private_key_hex"])
    before = int(time.time() * 1000)
    body = '{"client_id": "c", "grant_type": "refresh_token", "refresh_token": "r"}'
    signed = key.sign_request("POST", "/v2/oauth/token", "", body)
    nonce = int(signed.nonce)
    # At or after the wall clock; ahead of it only by bursts of more than one per ms.
    assert before <= nonce < before + 60_000
    assert signed.content == cobo_oauth.canonical_content("POST", "/v2/oauth/token", signed.nonce, "", body)
    assert signed.digest == cobo_oauth.content_digest(signed.content)
    assert key.sign_request_with_nonce("POST", "/v2/oauth/token", "", body, signed.nonce) == signed
    following = key.sign_request("GET", "/v2/oauth/token")
    assert int(following.nonce) > nonce
    assert following.content == f"GET|/v2/oauth/token|{following.nonce}||"


def test_generated_keys_sign_verifiably() -> None:
    first, second = AppKey.generate(), AppKey.generate()
    assert first.api_key() != second.api_key()
    for key in (first, second):
        assert re.fullmatch(r"[0-9a-f]{64}", key.api_key())
        assert re.fullmatch(r"[0-9a-f]{64}", key.private_key_hex())
        assert AppKey(key.private_key_hex()).api_key() == key.api_key()
        signed = key.sign_request("GET", "/v2/oauth/token", "a=1", "")
        # content = "<head>|<last part>" is signed exactly as a Cobo response "<body>|<timestamp>" is.
        head, _, last = signed.content.rpartition("|")
        ResponseVerifier.with_key(key.api_key()).verify(head.encode(), last, signed.signature)
        with pytest.raises(cobo_oauth.ResponseSignatureError):
            ResponseVerifier.with_key(key.api_key()).verify(head.encode(), "x", signed.signature)
