"""What every HTTP-client hook shares: the CoboAuth headers for the exact bytes a
client sends, and the check of Cobo's response signature. No HTTP library is imported
here, so the package imports without any of them."""

from __future__ import annotations

from typing import Callable, Generic, Mapping, Optional, TypeVar, Union

from cobo_oauth._native import AppKey, ResponseVerifier, TokenManager
from cobo_oauth.exceptions import InvalidArgumentError, ResponseSignatureError, UnavailableError

RequestT = TypeVar("RequestT")

# Proxy answers that carry no Cobo signature (see the core's client).
_PROXY_STATUSES = frozenset({414, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


class RequestAuth(Generic[RequestT]):
    """Signs requests for one app and one organization (or one picked per request), and
    checks Cobo's answers. Holds no token itself: the ``TokenManager`` renews it."""

    def __init__(
        self,
        key: AppKey,
        manager: TokenManager,
        org_id: Union[str, Callable[[RequestT], str]],
        verifier: Optional[ResponseVerifier],
    ) -> None:
        if isinstance(org_id, str) and not org_id.strip():
            raise InvalidArgumentError("invalid argument: org_id must not be empty", reason="org_id must not be empty")
        self._key = key
        self._manager = manager
        self._org_id = org_id
        self._verifier = verifier

    def _org_for(self, request: RequestT) -> str:
        return self._org_id if isinstance(self._org_id, str) else self._org_id(request)

    def _headers(self, method: str, target: str, body: bytes, token: str) -> dict[str, str]:
        """The four headers for a request sent as ``METHOD target`` with ``body``;
        ``target`` is the path and query exactly as they go on the wire."""
        path, _, query = target.partition("?")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            reason = "the body is not UTF-8; CoboAuth signs it as text"
            raise InvalidArgumentError(f"invalid argument: {reason}", reason=reason) from None
        signed = self._key.sign_request(method.upper(), path, query, text)
        return {
            "Authorization": f"Bearer {token}",
            "Biz-Api-Key": signed.api_key,
            "Biz-Api-Nonce": signed.nonce,
            "Biz-Api-Signature": signed.signature,
        }

    def _verify(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Returns when Cobo signed ``body`` (either header spelling); raises
        ``ResponseSignatureError``, or ``UnavailableError`` for a proxy's unsigned
        414/429/500/502/503/504/520-524. ``headers`` must look names up case-insensitively."""
        if self._verifier is None:
            return
        timestamp = headers.get("Biz-Timestamp") or headers.get("Biz_Timestamp")
        signature = headers.get("Biz-Resp-Signature") or headers.get("Biz_Resp_Signature")
        if timestamp is not None and signature is not None:
            self._verifier.verify(body, timestamp, signature)
        elif status in _PROXY_STATUSES:
            raise UnavailableError(
                f"service unavailable: HTTP {status} from a proxy, without a Cobo signature", status=status
            )
        else:
            reason = f"HTTP {status} response carries no Cobo signature"
            raise ResponseSignatureError(f"response signature: {reason}", reason=reason)

    def __repr__(self) -> str:
        org = self._org_id if isinstance(self._org_id, str) else "<per request>"
        checks = "verified" if self._verifier is not None else "NOT verified"
        return f"{type(self).__name__}(api_key={self._key.api_key()!r}, org_id={org!r}, responses {checks})"
