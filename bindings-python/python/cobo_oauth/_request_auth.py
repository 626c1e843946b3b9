"""What every HTTP-client hook shares: the CoboAuth headers for the exact bytes a
client sends, the check of Cobo's response signature, and which verified answers are
sent again (``classify_refusal``). No HTTP library is imported here, so the package
imports without any of them."""

from __future__ import annotations

from typing import Callable, Generic, Mapping, Optional, TypeVar, Union

from cobo_oauth._native import _COBOAUTH_RESENDS, AppKey, ResponseVerifier, TokenManager, classify_refusal
from cobo_oauth.exceptions import InvalidArgumentError, ResponseSignatureError, UnavailableError
from cobo_oauth.refusal import Refusal

RequestT = TypeVar("RequestT")

# Proxy answers that carry no Cobo signature (see the core's client).
_PROXY_STATUSES = frozenset({414, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
# The only statuses classify_refusal can answer with a refusal: other answers are final
# without parsing their bodies.
_REFUSAL_STATUSES = frozenset({401, 500})


class Resends:
    """One call's budget for sending again: ``_COBOAUTH_RESENDS`` (3) freshly signed
    resends after CoboAuth refusals, and one with a renewed token after a refused
    access token."""

    __slots__ = ("cobo_auth", "renewed")

    def __init__(self) -> None:
        self.cobo_auth = 0
        self.renewed = False

    def take(self, status: int, body: bytes) -> Optional[Refusal]:
        """The refusal to recover from by sending the request again (counted against the
        budget), or None when the verified answer ``status``/``body`` is final: not a
        refusal, or one whose budget is spent."""
        if status not in _REFUSAL_STATUSES:
            return None
        refusal = classify_refusal(status, body)
        if refusal is Refusal.COBO_AUTH and self.cobo_auth < _COBOAUTH_RESENDS:
            self.cobo_auth += 1
            return refusal
        if refusal is Refusal.ACCESS_TOKEN and not self.renewed:
            self.renewed = True
            return refusal
        return None


class RequestAuth(Generic[RequestT]):
    """Signs requests for one app and one organization (or one picked per request), and
    checks Cobo's answers. Holds no token itself: the ``TokenManager`` renews it.

    A request is sent again only when Cobo refused it before acting on it, told by the
    verified answer's status and ``error_code`` (``classify_refusal``): freshly signed
    after a refusal of its CoboAuth headers (a nonce another host drew too, or outside
    Cobo's window; at most 3 times), and once with the manager's next token after a
    refused access token (revoked or expired early), which the manager first
    invalidates, so concurrent callers share one renewal. Any other answer, a generic
    500 included, is returned as it is: a WaaS call may not be idempotent."""

    def __init__(
        self,
        key: AppKey,
        manager: TokenManager,
        org_id: Union[str, Callable[[RequestT], str]],
        verifier: Optional[ResponseVerifier],
    ) -> None:
        # Kotlin and Swift take (key, manager, verifier, org): a call in their order
        # must fail here, not on the first request.
        if not isinstance(org_id, str) and (isinstance(org_id, ResponseVerifier) or not callable(org_id)):
            raise TypeError(
                f"org_id must be a str or a callable picking it per request, not {type(org_id).__name__}; "
                "pass org_id= and verifier= by keyword"
            )
        if verifier is not None and not isinstance(verifier, ResponseVerifier):
            raise TypeError(
                f"verifier must be a ResponseVerifier or None, not {type(verifier).__name__}; "
                "pass org_id= and verifier= by keyword"
            )
        if isinstance(org_id, str) and not org_id.strip():
            raise InvalidArgumentError("invalid argument: org_id must not be empty", reason="org_id must not be empty")
        self._key = key
        self._manager = manager
        self._org_id = org_id
        self._verifier = verifier

    def _renew(self, org_id: str, refused_token: str) -> str:
        """The token to resend with after ``refused_token`` was refused: invalidated (if
        still current), then the manager's next one, renewed once for every caller."""
        self._manager.invalidate(org_id, refused_token)
        return self._manager.access_token(org_id)

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

    def _refusal(self, status: int, headers: Mapping[str, str], body: bytes, resends: Resends) -> Optional[Refusal]:
        """Verifies the answer (``_verify``): the refusal to send the request again for
        (``resends.take``), or None when it is final."""
        self._verify(status, headers, body)
        return resends.take(status, body)

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
