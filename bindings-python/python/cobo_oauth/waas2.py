"""Org Access Tokens for Cobo's official SDK (``pip install cobo-oauth[waas2]``).

cobo_waas2 signs every call with the app key (its ``Configuration`` holds the key) but
never sends the Org Access Token: its ``Configuration.access_token`` is unused. Every
generated API class (``WalletsApi``, ``TransactionsApi``, …) sends through one method,
``ApiClient.call_api``; ``org_api_client`` returns an ``ApiClient`` whose ``call_api``
adds ``Authorization: Bearer <token>`` from a ``TokenManager`` first, so each call
carries a token the manager keeps valid (renewed by the clock, before Cobo would
answer 500). Signing and response checks stay the SDK's own::

    api_client = org_api_client(Configuration(api_private_key=..., host=...), manager, org_id)
    wallets = WalletsApi(api_client).list_wallets(limit=10)

The SDK's nonce is the wall-clock millisecond, and the manager's token requests are
signed with the same app key: after a new token, the next SDK call waits for the next
millisecond, so Cobo never sees one nonce twice. cobo_waas2 is imported only when
``org_api_client`` is called.
"""

from __future__ import annotations

import time
from typing import Any

from cobo_oauth._native import TokenManager
from cobo_oauth.exceptions import InvalidArgumentError

__all__ = ["org_api_client"]


def org_api_client(configuration: Any, manager: TokenManager, org_id: str) -> Any:
    """A ``cobo_waas2.ApiClient`` for ``configuration`` whose every call acts for
    ``org_id`` with the manager's current token (the manager may renew it first: a
    network call). One client per organization; share it between threads as you would
    the SDK's own. Raises ``ImportError`` without cobo_waas2."""
    if not org_id.strip():
        raise InvalidArgumentError("invalid argument: org_id must not be empty", reason="org_id must not be empty")
    from cobo_waas2 import ApiClient  # type: ignore  # the optional extra

    # The SDK's ApiClient with _OrgToken's call_api in front of its own.
    api_client = type("OrgApiClient", (_OrgToken, ApiClient), {})(configuration)
    api_client._cobo_manager = manager
    api_client._cobo_org_id = org_id
    return api_client


class _OrgToken:
    """Mixed in before cobo_waas2's ApiClient, whose ``call_api`` every generated API
    method goes through: adds the organization's Bearer token, then lets the SDK sign
    and send as usual."""

    _cobo_manager: TokenManager
    _cobo_org_id: str
    _cobo_last_header: str = ""

    def call_api(self, method: Any, url: Any, header_params: Any = None, *args: Any, **kwargs: Any) -> Any:
        headers = dict(header_params or {})
        header = self._cobo_manager.authorization_header(self._cobo_org_id)
        if header != self._cobo_last_header:
            # A new token: the manager may have just asked Cobo for it, signed with this
            # app's key and a millisecond nonce. The SDK's nonce is the wall-clock
            # millisecond, and Cobo refuses a key's nonce twice: start in a later one.
            _wait_for_the_next_millisecond()
            self._cobo_last_header = header
        # Not part of CoboAuth's signed content, so the SDK's signature is unaffected.
        headers["Authorization"] = header
        return super().call_api(method, url, headers, *args, **kwargs)  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"OrgApiClient(org_id={self._cobo_org_id!r})"


def _wait_for_the_next_millisecond() -> None:
    now = time.time_ns() // 1_000_000
    while time.time_ns() // 1_000_000 <= now:
        time.sleep(0.0002)
