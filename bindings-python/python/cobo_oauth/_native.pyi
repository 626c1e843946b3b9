"""The native module (Rust, pyo3). Import from ``cobo_oauth``, not from here."""

import asyncio
import contextvars
import os
from datetime import datetime
from typing import Any, Callable, Generator, Generic, Iterable, Literal, Mapping, TypeVar, final, overload

from cobo_oauth.environment import Environment
from cobo_oauth.protocols import CoordinatedTokenStoreProtocol, TokenStoreProtocol
from cobo_oauth.refusal import Refusal as Refusal

__all__ = [
    "__version__",
    "_COBOAUTH_RESENDS",
    "_PanicException",
    "_Call",
    "_Completions",
    "AppKey",
    "ClientConfig",
    "OAuthClient",
    "OrgToken",
    "Refusal",
    "ResponseVerifier",
    "SignedRequest",
    "StoreKey",
    "StoredToken",
    "TokenLease",
    "TokenManager",
    "TokenManagerConfig",
    "TokenStore",
    "VersionedToken",
    "callback_answer",
    "canonical_content",
    "classify_refusal",
    "content_digest",
    "coordinated_token_store",
    "file_token_store",
    "memory_token_store",
    "redis_token_store",
    "verify_delivery",
    "verify_webhook",
    "verify_webhook_with_key",
]

__version__: str
# pyo3's PanicException, for tests of stores that raise it.
_PanicException: type[BaseException]
# The core's COBOAUTH_RESENDS: how many times the request hooks resend a request whose
# CoboAuth headers Cobo refused.
_COBOAUTH_RESENDS: int

@final
class AppKey:
    """The Portal App's Ed25519 key. ``repr()`` shows only the API key.

    Raises ``InvalidKeyError`` for a malformed key.
    """

    def __new__(cls, private_key_hex: str) -> AppKey:
        """From a 64-hex-char seed, or the 128-hex-char seed||public form (the halves must
        match). Surrounding whitespace is ignored, so a key file's newline is fine."""

    @classmethod
    def generate(cls) -> AppKey:
        """A fresh random key pair from the operating system's CSPRNG."""

    def api_key(self) -> str:
        """The public key as hex: the API key registered with Cobo."""

    def private_key_hex(self) -> str:
        """The 64-hex-char seed, to store a generated key. Handle with care."""

    def sign_request(self, method: str, path: str, query: str = "", body: str = "") -> SignedRequest:
        """Signs one request. The nonce is the current time in milliseconds, strictly
        increasing across every call in this process. ``query`` is the raw query string
        without ``?``, ``body`` the exact body sent. Does no I/O."""

    def sign_request_with_nonce(self, method: str, path: str, query: str, body: str, nonce: str) -> SignedRequest:
        """As ``sign_request`` with a caller-chosen nonce (for test vectors and debugging)."""

@final
class ResponseVerifier:
    """Checks Cobo's response signatures (``Biz-Timestamp``, ``Biz-Resp-Signature``)."""

    def __new__(cls, environment: Environment) -> ResponseVerifier:
        """The key Cobo signs this environment's responses with."""

    @classmethod
    def with_key(cls, public_key_hex: str) -> ResponseVerifier:
        """A custom Cobo public key (64 hex chars), e.g. for a proxy or the mock server.
        Raises ``InvalidArgumentError`` for a malformed key."""

    def verify(self, body: bytes | bytearray, timestamp: str, signature: str) -> None:
        """Returns when ``signature`` is Cobo's over ``<body>|<timestamp>``; raises
        ``ResponseSignatureError`` otherwise. Does no I/O."""

    def verify_delivery(
        self,
        body: bytes | bytearray,
        headers: Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[str | bytes, str | bytes]],
        max_age_secs: int = 300,
    ) -> None:
        """As the module's ``verify_delivery``, with this verifier's key (Cobo's, a
        proxy's, the mock's)."""

@final
class OAuthClient:
    """Calls Cobo's OAuth endpoints over one HTTP connection pool. Safe to share between
    threads; constructing it does no network I/O. Network calls release the GIL."""

    def __new__(cls, key: AppKey, config: ClientConfig | None = None) -> OAuthClient:
        """Checks ``config`` (``None``: the defaults, i.e. production). Raises
        ``InvalidArgumentError`` for an unusable configuration."""

    def base_url(self) -> str:
        """The base URL requests go to, e.g. ``https://api.cobo.com/v2``."""

    def get_org_token(self, client_id: str, org_id: str) -> OrgToken:
        """GET /oauth/token, grant ``org_implicit``. Makes one request, more on retryable
        failures (transport errors, 5XX, 429, 503)."""

    def refresh_org_token(self, client_id: str, refresh_token: str) -> OrgToken:
        """POST /oauth/token, grant ``refresh_token``. The old refresh token is spent once
        this reaches Cobo: store the returned one. Never replayed after the connection
        opened."""

    def _get_org_token_async(self, client_id: str, org_id: str, completions: _Completions) -> _Call[OrgToken]:
        """For ``AsyncOAuthClient``: starts ``get_org_token`` on the core's I/O thread and
        returns what the task awaits (its result an ``OrgToken``), a call of
        ``completions``' loop."""

    def _refresh_org_token_async(self, client_id: str, refresh_token: str, completions: _Completions) -> _Call[OrgToken]:
        """For ``AsyncOAuthClient``: ``refresh_org_token`` as ``_get_org_token_async``."""

@final
class _Completions:
    """For ``AsyncOAuthClient`` and ``AsyncTokenManager``: the outcomes of one event
    loop's calls. The thread a call ends on queues its outcome and wakes the loop through
    a socket it watches (``fileno()``), or, given ``wake``, by calling it; ``drain()`` on
    the loop's thread settles their calls."""

    def __new__(cls, event_loop: asyncio.AbstractEventLoop, wake: Callable[[], object] | None = None) -> _Completions: ...
    def fileno(self) -> int:
        """The socket to watch with ``loop.add_reader``; -1 when woken by ``wake``."""
    def drain(self) -> None:
        """Settles the calls that ended since the last drain, waking their tasks."""

_T = TypeVar("_T")

@final
class _Call(Generic[_T]):
    """For the async classes: one call as its task awaits it, a future in the protocol
    asyncio's ``Task`` speaks. Its task wakes as soon as ``drain()`` settles it; one over
    before it started (a cached answer) returns or raises on the first ``await``."""

    _asyncio_future_blocking: bool
    def __await__(self) -> Generator[_Call[_T], None, _T]: ...
    def __next__(self) -> _Call[_T]: ...
    def get_loop(self) -> asyncio.AbstractEventLoop: ...
    def add_done_callback(self, callback: Callable[[_Call[_T]], object], *, context: contextvars.Context | None = None) -> None: ...
    def result(self) -> _T: ...
    def done(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def cancel(self, msg: Any | None = None) -> bool: ...

@final
class OrgToken:
    """An Org Access Token as issued. ``repr()`` elides both tokens."""

    @property
    def access_token(self) -> str:
        """Send as ``Authorization: Bearer <access_token>``."""
    @property
    def token_type(self) -> str:
        """``Bearer``."""
    @property
    def scope(self) -> str:
        """Empty today."""
    @property
    def expires_in(self) -> int:
        """Seconds until the access token expires, as issued (about 12 h)."""
    @property
    def refresh_token(self) -> str:
        """Single use: each refresh returns a new one."""
    @property
    def expires_at(self) -> datetime:
        """Receipt time plus ``expires_in``, an aware UTC datetime (clamped to
        ``datetime.max`` past the year 9999). Refresh by this clock: Cobo answers an
        expired token with a 500, not a 401."""

    def __new__(
        cls,
        *,
        access_token: str,
        token_type: str,
        scope: str,
        expires_in: int,
        refresh_token: str,
        expires_at: datetime,
    ) -> OrgToken:
        """A token record (for tests and caches); ``expires_at`` must be timezone-aware."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class TokenLease:
    """An access token and the instant until which a cache outside the manager may serve
    it without asking again (the start of the refresh margin). ``repr()`` elides the token."""

    @property
    def access_token(self) -> str:
        """Send as ``Authorization: Bearer <access_token>``."""
    @property
    def serve_until(self) -> datetime:
        """An aware UTC datetime; after it, ask the manager again."""

    def __new__(cls, *, access_token: str, serve_until: datetime) -> TokenLease:
        """``serve_until`` must be timezone-aware."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class SignedRequest:
    """The CoboAuth headers for one request, plus what was signed. Send them as
    ``Biz-Api-Key``, ``Biz-Api-Nonce``, ``Biz-Api-Signature``. ``repr()`` elides
    ``content``, which holds the body."""

    @property
    def api_key(self) -> str: ...
    @property
    def nonce(self) -> str: ...
    @property
    def signature(self) -> str: ...
    @property
    def content(self) -> str:
        """``METHOD|PATH|nonce|QUERY|BODY``, the string that was signed."""
    @property
    def digest(self) -> str:
        """SHA-256(SHA-256(content)) as hex: the 32 bytes the signature signs."""

    def __new__(cls, *, api_key: str, nonce: str, signature: str, content: str, digest: str) -> SignedRequest: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ClientConfig:
    """Where to send requests and how to check the answers. With ``base_url`` unset,
    ``environment`` picks Cobo's URL and response key; a custom ``base_url`` (a proxy, the
    mock server) needs ``response_public_key``. ``http://`` is refused unless the host is
    loopback. TLS trusts the platform's roots (bundled Mozilla roots where the platform
    has none) plus ``extra_ca_pem``. Checked when an ``OAuthClient`` is made; an int out
    of range raises ``InvalidArgumentError`` here."""

    @property
    def environment(self) -> Environment: ...
    @property
    def base_url(self) -> str | None: ...
    @property
    def response_public_key(self) -> str | None: ...
    @property
    def connect_timeout_ms(self) -> int: ...
    @property
    def timeout_ms(self) -> int:
        """One attempt, from connecting to the last byte of the body."""
    @property
    def user_agent(self) -> str | None: ...
    @property
    def max_retries(self) -> int:
        """Extra attempts for the GET after transport errors, 5XX, 429 and 503 (at most
        10). The refresh POST is retried only when the connection never opened."""
    @property
    def retry_base_delay_ms(self) -> int: ...
    @property
    def retry_max_delay_ms(self) -> int: ...
    @property
    def total_timeout_ms(self) -> int:
        """Bounds a whole call, retries and their waits included (and a ``TokenManager``'s
        renewal, which may make two calls)."""
    @property
    def extra_ca_pem(self) -> str | None:
        """PEM text of CA certificates to trust besides the platform's roots (one or more
        ``BEGIN CERTIFICATE`` blocks). Unusable PEM raises ``InvalidArgumentError`` when an
        ``OAuthClient`` is made."""
    @property
    def proxy_url(self) -> str | None:
        """A proxy for https requests, ``http://`` or ``https://``, credentials in the URL
        (``http://user:pass@proxy:3128``); ``repr`` elides it. ``None``: ``HTTPS_PROXY``,
        ``ALL_PROXY`` and ``NO_PROXY`` from the environment. An ``http://`` loopback
        ``base_url`` never goes through a proxy."""

    def __new__(
        cls,
        *,
        environment: Environment | None = None,
        base_url: str | None = None,
        response_public_key: str | None = None,
        connect_timeout_ms: int = 5000,
        timeout_ms: int = 30000,
        user_agent: str | None = None,
        max_retries: int = 2,
        retry_base_delay_ms: int = 200,
        retry_max_delay_ms: int = 2000,
        total_timeout_ms: int = 60000,
        extra_ca_pem: str | None = None,
        proxy_url: str | None = None,
    ) -> ClientConfig:
        """``environment=None`` means ``Environment.PROD``."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def verify_webhook(body: bytes | bytearray, timestamp: str, signature: str, environment: Environment) -> None:
    """Checks a webhook or callback delivery from Cobo: Ed25519 over
    SHA-256(SHA-256(``<raw body>|<timestamp>``)) with the environment's key. Raises
    ``ResponseSignatureError`` when it does not verify. Does no I/O."""

def verify_webhook_with_key(body: bytes | bytearray, timestamp: str, signature: str, public_key_hex: str) -> None:
    """As ``verify_webhook``, with an explicit Cobo public key (64 hex chars)."""

def verify_delivery(
    body: bytes | bytearray,
    headers: Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[str | bytes, str | bytes]],
    environment: Environment,
    max_age_secs: int = 300,
) -> None:
    """Checks a webhook or callback delivery as a web framework hands it over: the raw
    body and the request's headers (a dict, Starlette's or Werkzeug's ``Headers``, or
    ASGI's raw pairs; ``Biz-Timestamp`` and ``Biz-Resp-Signature`` in any case, ``-`` or
    ``_``), signed with the environment's key, the timestamp within ``max_age_secs`` of
    this host's clock either way. Raises ``ResponseSignatureError`` otherwise. Does no I/O."""

def callback_answer(approve: bool) -> str:
    """The plain-text body Cobo expects in answer to a callback: ``"ok"`` approves,
    ``"deny"`` refuses."""

def canonical_content(method: str, path: str, nonce: str, query: str, body: str) -> str:
    """The canonical CoboAuth string ``METHOD|PATH|nonce|QUERY|BODY``, for debugging."""

def classify_refusal(status: int, body: bytes | bytearray) -> Refusal | None:
    """What a verified WaaS answer asks of an HTTP hook, told by ``status`` and the JSON
    body's ``error_code`` (never the message): ``Refusal.COBO_AUTH`` (resend it freshly
    signed, at most 3 times), ``Refusal.ACCESS_TOKEN`` (``TokenManager.invalidate`` the
    token, resend once), or None when the answer is final. Only a 401 or a 500 can be a
    refusal; other bodies are not parsed. Call it after checking Cobo's signature."""

def content_digest(content: str) -> str:
    """SHA-256(SHA-256(content)) as hex: the 32 bytes a CoboAuth signature signs."""

def memory_token_store() -> TokenStore:
    """A ``TokenStore`` in memory: the ``TokenManager``'s default. Tokens die with the process."""

def file_token_store(path: str | os.PathLike[str], store_key: StoreKey | None = None) -> TokenStore:
    """A ``TokenStore`` in the directory ``path`` (0700), one record file per org (0600),
    that the processes of one host can share (gunicorn, uvicorn or Celery workers):
    renewals are coordinated with ``flock``, so each token is renewed once. Written by
    exclusive temp file, fsync and rename; a record that does not parse is moved aside;
    the single file older versions kept at ``path`` is split on first use. Local
    filesystems only. Does no I/O until first used. Raises ``InvalidArgumentError`` for
    an empty path.

    Tokens are sealed with ``store_key``, or else with a key derived from the app key of
    the first ``TokenManager`` given this store; a clear-text record older versions wrote
    is sealed when read."""

def redis_token_store(url: str, key_prefix: str, timeout_ms: int = 2000, store_key: StoreKey | None = None) -> TokenStore:
    """A ``TokenStore`` in Redis that every process and host of an app can share:
    ``redis://`` or ``rediss://`` (platform trust roots), user and password from the URL.
    Keys start with ``key_prefix`` and expire with the refresh token; ``timeout_ms``
    bounds connecting and each command. Connects on first use. Raises
    ``InvalidArgumentError`` for a URL that is not Redis's (never quoting it). Tokens are
    sealed as ``file_token_store``'s are; the key prefix is bound too."""

def coordinated_token_store(store: CoordinatedTokenStoreProtocol) -> TokenStore:
    """A ``TokenStore`` over your own coordinated store (``CoordinatedTokenStoreProtocol``:
    a database with a version column and a lease row, for example): the ``TokenManager``
    renews each token once across every process sharing it. Raises ``TypeError`` when a
    method is missing."""

@final
class StoreKey:
    """The key the file and Redis stores seal tokens with (XChaCha20-Poly1305, the org id
    bound), derived by HKDF-SHA256. Its ``seal`` and ``open`` serve a store of your own
    (a SQL column, say). ``repr()`` shows nothing of it."""

    @classmethod
    def from_app_key(cls, app_key: AppKey) -> StoreKey:
        """Derived from the app key: what the built-in stores use unless given a key."""
    @classmethod
    def from_bytes(cls, key: bytes) -> StoreKey:
        """Derived from 32 bytes the app keeps apart from its app key (a secret manager).
        Raises ``InvalidArgumentError`` for another length."""
    def seal(self, org_id: str, token: StoredToken) -> bytes:
        """The token sealed for ``org_id``."""
    def open(self, org_id: str, sealed: bytes) -> StoredToken | None:
        """What ``seal`` sealed for ``org_id``; None when it does not open (another key,
        another org): treat it as missing. Raises ``InvalidArgumentError`` for bytes
        ``seal`` did not make."""

@final
class TokenStore:
    """A built-in token store (``memory_token_store()``, ``file_token_store(path)``). A
    ``TokenManager`` calls it directly, without Python; these methods are for inspection
    and migration. Any object with the same three methods (``TokenStoreProtocol``) can be
    a store too. Errors raise ``StoreError``."""

    def load(self, org_id: str) -> StoredToken | None:
        """The token saved for this org, or None."""

    def save(self, org_id: str, token: StoredToken) -> None:
        """Replaces the org's token."""

    def delete(self, org_id: str) -> None:
        """Forgets the org."""

@final
class VersionedToken:
    """A record as a coordinated store holds it: the token (None before the first save
    or after a delete) and a version, 0 before the first save and bumped by every change."""

    @property
    def token(self) -> StoredToken | None: ...
    @property
    def version(self) -> int: ...
    def __new__(cls, *, token: StoredToken | None, version: int) -> VersionedToken: ...

@final
class StoredToken:
    """What a token store keeps per organization: the last token issued and when its
    refresh token expires (Cobo does not say; ``TokenManagerConfig`` sets the lifetime).
    ``repr()`` elides both tokens."""

    @property
    def token(self) -> OrgToken: ...
    @property
    def refresh_expires_at(self) -> datetime:
        """An aware UTC datetime."""
    @property
    def refresh_in_flight(self) -> bool:
        """Set in a shared store just before a renewal presents the refresh token: no
        other renewal presents it again (Cobo may have spent it). Store it as you store
        the other fields."""

    def __new__(
        cls, *, token: OrgToken, refresh_expires_at: datetime, refresh_in_flight: bool = False
    ) -> StoredToken:
        """For a Python store rebuilding what it saved; ``refresh_expires_at`` must be
        timezone-aware (it is converted to UTC)."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class TokenManagerConfig:
    """How a ``TokenManager`` decides a token needs renewing."""

    @property
    def refresh_margin_secs(self) -> int:
        """Renew the access token when less than this is left of it."""
    @property
    def refresh_token_lifetime_secs(self) -> int:
        """How long a refresh token lives after it is issued (Cobo: 30 days, "subject to
        change")."""

    @property
    def backoff_initial_ms(self) -> int:
        """After a failed renewal the org waits this long before the next (doubling per
        failure, jittered, up to ``backoff_max_ms``). Meanwhile a still-valid token is
        served and an expired one gets the recorded error without a request."""
    @property
    def backoff_max_ms(self) -> int: ...
    @property
    def lease_ttl_ms(self) -> int:
        """With a coordinated store: how long a renewal lease lasts unless its holder's
        heartbeat extends it (every third of it). A holder that dies stops blocking other
        processes after this long (the file store's lease ends at once)."""

    def __new__(
        cls,
        *,
        refresh_margin_secs: int = 300,
        refresh_token_lifetime_secs: int = 2592000,
        backoff_initial_ms: int = 1000,
        backoff_max_ms: int = 60000,
        lease_ttl_ms: int = 10000,
    ) -> TokenManagerConfig:
        """Out-of-range ints raise ``InvalidArgumentError``; so does an absurd combination
        (a lifetime over 100 years, a margin longer than it, a backoff over an hour) when
        the ``TokenManager`` is made."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class TokenManager:
    """Always-valid Org Access Tokens for one app: cached, renewed by the clock before they
    expire, one renewal at a time per org (concurrent callers wait for it and share its
    result; other orgs never wait), rotated refresh tokens saved before use. Safe to share
    between threads; every method releases the GIL. ``repr()`` shows no token."""

    def __new__(
        cls,
        client: OAuthClient,
        client_id: str,
        store: TokenStore | TokenStoreProtocol | None = None,
        config: TokenManagerConfig | None = None,
    ) -> TokenManager:
        """``store=None``: a new ``memory_token_store()``; ``config=None``: the defaults.
        Does no I/O. Raises ``InvalidArgumentError`` for an empty ``client_id`` and
        ``TypeError`` for a store without ``load``/``save``/``delete``."""

    def _cached_access_token(self, org_id: str) -> str | None:
        """For ``AsyncTokenManager``: the org's access token when the cache serves it as it
        is, else None. Never waits."""

    @overload
    def _token_async(self, org_id: str, whole: Literal[True], completions: _Completions) -> _Call[StoredToken]:
        """For ``AsyncTokenManager``: what the task awaits for the token (``whole``, a
        ``StoredToken``) or access token (a ``str``), a call of ``completions``' loop:
        over at once if the cache can answer, else ended by the renewal in flight."""
    @overload
    def _token_async(self, org_id: str, whole: Literal[False], completions: _Completions) -> _Call[str]: ...

    def access_token(self, org_id: str) -> str:
        """A valid access token for the org: from the cache, else refreshed (or, with no
        usable refresh token, newly granted with org_implicit). May make network requests
        and store calls. Raises ``AuthorizationRequiredError`` when the organization must
        authorize the app again, ``StoreError`` when the store fails."""

    def authorization_header(self, org_id: str) -> str:
        """``"Bearer <access token>"``, for the Authorization header."""

    def token(self, org_id: str) -> StoredToken:
        """The whole current token (renewing it first if needed)."""

    def lease(self, org_id: str) -> TokenLease:
        """The access token (renewed first if needed) and until when a cache of yours may
        serve it without calling the manager. Drop it when you ``invalidate`` the org."""

    def refresh_token_expires_at(self, org_id: str) -> datetime | None:
        """When the org's refresh token expires, or None when no token is known. Loads
        from the store if needed; makes no network request."""

    def invalidate(self, org_id: str, access_token: str) -> bool:
        """Expires the cached access token if it is still ``access_token``, the one the
        caller used and saw refused: the next ``access_token`` renews it. A token renewed
        meanwhile is kept, so many callers reporting one refused token cause one renewal.
        Keeps the refresh token. Returns whether the token was still current."""
    def forget(self, org_id: str) -> None:
        """Forgets the org (it uninstalled the app): its tokens leave this manager's cache
        and the store, so no process serves them again. A later call for the org asks Cobo
        for a new grant, which Cobo refuses once the app is uninstalled
        (``AuthorizationRequiredError``). Call it when no call for the org is in flight."""
