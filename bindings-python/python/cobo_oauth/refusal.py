"""The refusals a WaaS request recovers from (the UDL's ``Refusal``), as
``classify_refusal`` tells them."""

from __future__ import annotations

import enum

__all__ = ["Refusal"]


class Refusal(enum.Enum):
    """What a verified answer from Cobo asks of the caller (``classify_refusal``)."""

    COBO_AUTH = "cobo_auth"
    """A 401 refusing the request's CoboAuth headers (its signature, its nonce, or the
    nonce's timestamp) before Cobo acted on it: send it again, whatever its method, with
    a fresh nonce and signature; at most 3 times."""
    ACCESS_TOKEN = "access_token"
    """A 500 naming the Bearer token (expired or revoked): call
    ``TokenManager.invalidate(org_id, token)`` with the token that was refused, then send
    the request once more with the manager's token. Many callers invalidating one token
    cause one renewal."""
