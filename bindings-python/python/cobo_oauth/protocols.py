"""``TokenStoreProtocol``: the shape of a token store written in Python (the UDL's
``[Trait, WithForeign] interface TokenStore``), for type checkers. A ``TokenManager``
accepts any object with these three methods, or a built-in ``TokenStore``."""

from __future__ import annotations

from typing import Optional, Protocol, runtime_checkable

from cobo_oauth._native import StoredToken

__all__ = ["TokenStoreProtocol"]


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
