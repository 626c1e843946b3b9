"""Webhook and callback deliveries: the raw body, headers as frameworks give them, the
timestamp's age, and the plain-text answer Cobo expects of a callback."""

from __future__ import annotations

import re
import time
from typing import Any, Iterator, Mapping

import pytest

from cobo_oauth import (
    AppKey,
    Environment,
    ResponseSignatureError,
    ResponseVerifier,
    callback_answer,
    verify_delivery,
)
from conftest import REPO

BODY = b"POST|/hook|1|"


def signed_headers(key: AppKey, sent_ms: int) -> dict[str, str]:
    """Headers Cobo would send with BODY, signed by ``key`` standing in for Cobo's: CoboAuth
    content ``POST|/hook|1||<ms>`` is exactly ``<BODY>|<ms>``, what a delivery signs."""
    signed = key.sign_request_with_nonce("POST", "/hook", "", str(sent_ms), "1")
    return {"Biz-Timestamp": str(sent_ms), "Biz-Resp-Signature": signed.signature}


class StarletteLikeHeaders(Mapping[str, str]):
    """A case-insensitive read-only mapping, as Starlette and Werkzeug hand headers over."""

    def __init__(self, raw: dict[str, str]) -> None:
        self._raw = {k.lower(): v for k, v in raw.items()}

    def __getitem__(self, name: str) -> str:
        return self._raw[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


@pytest.fixture
def key() -> AppKey:
    return AppKey.generate()


def now_ms() -> int:
    return int(time.time() * 1000)


def test_headers_in_any_shape_and_case_verify(key: AppKey) -> None:
    verifier = ResponseVerifier.with_key(key.api_key())
    headers = signed_headers(key, now_ms())
    asgi_raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    java_style = {name.upper().replace("-", "_"): value for name, value in headers.items()}
    for shape in (headers, StarletteLikeHeaders(headers), asgi_raw, java_style):
        verifier.verify_delivery(BODY, shape)
        verifier.verify_delivery(bytearray(BODY), shape, max_age_secs=10)


def test_old_future_tampered_and_unsigned_deliveries_are_refused(key: AppKey) -> None:
    verifier = ResponseVerifier.with_key(key.api_key())
    with pytest.raises(ResponseSignatureError, match="older than 300 s"):
        verifier.verify_delivery(BODY, signed_headers(key, now_ms() - 301_000))
    verifier.verify_delivery(BODY, signed_headers(key, now_ms() - 301_000), max_age_secs=600)
    with pytest.raises(ResponseSignatureError, match="ahead of this host's clock"):
        verifier.verify_delivery(BODY, signed_headers(key, now_ms() + 301_000))
    with pytest.raises(ResponseSignatureError):
        verifier.verify_delivery(BODY + b"x", signed_headers(key, now_ms()))
    with pytest.raises(ResponseSignatureError, match="missing header biz-resp-signature"):
        verifier.verify_delivery(BODY, {"biz-timestamp": str(now_ms())})
    with pytest.raises(TypeError, match="headers must be a mapping"):
        verifier.verify_delivery(BODY, 42)  # type: ignore[arg-type]


def test_the_environment_form_uses_cobos_key(key: AppKey) -> None:
    with pytest.raises(ResponseSignatureError, match="does not match"):
        verify_delivery(BODY, signed_headers(key, now_ms()), Environment.SANDBOX)


def test_callbacks_are_answered_ok_or_deny() -> None:
    assert (callback_answer(True), callback_answer(False)) == ("ok", "deny")


def webhook_snippet() -> str:
    readme = (REPO / "bindings-python" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Webhooks and callbacks", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python block under ## Webhooks and callbacks"
    return match.group(1)


def test_the_readmes_callback_endpoint_answers_as_cobo_expects(key: AppKey) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(webhook_snippet(), "README.md", "exec"), namespace)
    answer = namespace["answer_callback"]
    verifier = ResponseVerifier.with_key(key.api_key())  # the snippet's is Cobo's
    fresh = signed_headers(key, now_ms())
    assert answer(BODY, fresh, verifier, lambda body: True) == (200, "ok")
    assert answer(BODY, fresh, verifier, lambda body: False) == (200, "deny")
    assert answer(BODY, signed_headers(key, now_ms() - 600_000), verifier, lambda body: True) == (401, "")
    assert answer(b"forged", fresh, verifier, lambda body: True) == (401, "")
