"""The shapes of token stores written in Python, for type checkers:

- ``TokenStoreProtocol`` (the UDL's ``TokenStore``): a ``TokenManager`` accepts any object
  with these three methods, or a built-in ``TokenStore``. It serves one process.
- ``CoordinatedTokenStoreProtocol`` (the UDL's ``CoordinatedTokenStore``): a store many
  processes or hosts share, given to ``coordinated_token_store``."""

from __future__ import annotations

from typing import Optional, Protocol, runtime_checkable

from cobo_oauth._native import StoredToken, VersionedToken

__all__ = ["CoordinatedTokenStoreProtocol", "TokenStoreProtocol"]


@runtime_checkable
class TokenStoreProtocol(Protocol):
    """Where a ``TokenManager`` keeps tokens across restarts (a database, a secret
    manager). Each method may do I/O and is called from the manager's threads, one call
    at a time per org; raise any exception to report a failure (the manager raises
    ``StoreError`` with its type and message)."""

    def load(self, org_id: str) -> Optional[StoredToken]:
        """The token saved for this org, or None."""
        ...

    def save(self, org_id: str, token: StoredToken) -> None:
        """Replaces the org's token. Called before a rotated token is handed to anyone."""
        ...

    def delete(self, org_id: str) -> None:
        """Forgets the org (its authorization is gone)."""
        ...


@runtime_checkable
class CoordinatedTokenStoreProtocol(Protocol):
    """A store that many processes or hosts share so that each token is renewed once and
    no spent refresh token is ever presented: a lease per org, versioned reads and
    compare-and-set saves. Called from the manager's threads; raise any exception to
    report a failure (the manager raises ``StoreError``)."""

    def load_versioned(self, org_id: str) -> VersionedToken:
        """The org's record: ``VersionedToken(token=None, version=0)`` when there is none."""
        ...

    def save_if_version(self, org_id: str, token: StoredToken, expected_version: int) -> bool:
        """Saves ``token`` and bumps the version if the stored version is still
        ``expected_version``; otherwise changes nothing and returns False."""
        ...

    def delete(self, org_id: str) -> None:
        """Forgets the org's token (its authorization is gone) and bumps the version."""
        ...

    def acquire_lease(self, org_id: str, owner: str, ttl_ms: int) -> bool:
        """Takes the org's renewal lease for ``owner`` if nobody holds it (or it lapsed);
        it lapses ``ttl_ms`` from now unless extended. Returns whether ``owner`` holds it."""
        ...

    def extend_lease(self, org_id: str, owner: str, ttl_ms: int) -> bool:
        """Moves the lease's end to ``ttl_ms`` from now if ``owner`` still holds it."""
        ...

    def release_lease(self, org_id: str, owner: str) -> None:
        """Gives the lease up if ``owner`` holds it; never someone else's."""
        ...
