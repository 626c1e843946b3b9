"""A coordinated token store written in Python on sqlite3: what an app with its own
database writes (CoordinatedTokenStoreProtocol). A version column gives compare-and-set
saves; a lease row with an owner and an expiry gives the renewal lease. Every process
opens the same database file; sqlite's own locking serializes the transactions. Given a
StoreKey, it keeps tokens sealed (StoreKey.seal / StoreKey.open), as the built-in stores do."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timezone
from typing import Any

from cobo_oauth import OrgToken, StoredToken, StoreKey, VersionedToken

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (org_id TEXT PRIMARY KEY, version INTEGER NOT NULL, token TEXT);
CREATE TABLE IF NOT EXISTS leases (org_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_ms INTEGER NOT NULL);
"""


def now_ms() -> int:
    return int(time.time() * 1000)


def encode(stored: StoredToken) -> str:
    token = stored.token
    return "\n".join(
        [
            token.access_token,
            token.token_type,
            token.scope,
            str(token.expires_in),
            token.refresh_token,
            token.expires_at.isoformat(),
            stored.refresh_expires_at.isoformat(),
        ]
    )


def decode(text: str) -> StoredToken:
    access, token_type, scope, expires_in, refresh, expires_at, refresh_expires_at = text.split("\n")
    token = OrgToken(
        access_token=access,
        token_type=token_type,
        scope=scope,
        expires_in=int(expires_in),
        refresh_token=refresh,
        expires_at=datetime.fromisoformat(expires_at).astimezone(timezone.utc),
    )
    return StoredToken(token=token, refresh_expires_at=datetime.fromisoformat(refresh_expires_at))


class SqliteStore:
    def __init__(self, path: str, key: StoreKey | None = None) -> None:
        self.path = path
        self.key = key
        self.local = threading.local()
        self.calls: dict[str, int] = {}
        with self.connection() as db:
            db.executescript(SCHEMA)

    def connection(self) -> sqlite3.Connection:
        # One connection per thread; `isolation_level=None` so BEGIN IMMEDIATE is ours.
        if getattr(self.local, "db", None) is None:
            self.local.db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db: sqlite3.Connection = self.local.db
        return db

    def transaction(self, name: str, work: Any) -> Any:
        self.calls[name] = self.calls.get(name, 0) + 1
        db = self.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
            db.execute("COMMIT")
            return result
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def load_versioned(self, org_id: str) -> VersionedToken:
        row = self.connection().execute("SELECT version, token FROM tokens WHERE org_id = ?", (org_id,)).fetchone()
        if row is None:
            return VersionedToken(token=None, version=0)
        if row[1] is None:
            return VersionedToken(token=None, version=row[0])
        # A token that does not open (sealed under another key) counts as missing.
        token = self.key.open(org_id, row[1]) if self.key else decode(row[1])
        return VersionedToken(token=token, version=row[0])

    def save_if_version(self, org_id: str, token: StoredToken, expected_version: int) -> bool:
        def save(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT version FROM tokens WHERE org_id = ?", (org_id,)).fetchone()
            if (row[0] if row else 0) != expected_version:
                return False
            db.execute(
                "INSERT INTO tokens (org_id, version, token) VALUES (?, ?, ?) "
                "ON CONFLICT (org_id) DO UPDATE SET version = excluded.version, token = excluded.token",
                (org_id, expected_version + 1, self.key.seal(org_id, token) if self.key else encode(token)),
            )
            return True

        saved: bool = self.transaction("save_if_version", save)
        return saved

    def delete(self, org_id: str) -> None:
        self.transaction(
            "delete",
            lambda db: db.execute("UPDATE tokens SET token = NULL, version = version + 1 WHERE org_id = ?", (org_id,)),
        )

    def acquire_lease(self, org_id: str, owner: str, ttl_ms: int) -> bool:
        def acquire(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT owner, expires_ms FROM leases WHERE org_id = ?", (org_id,)).fetchone()
            if row is not None and row[1] > now_ms():
                return False
            db.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)", (org_id, owner, now_ms() + ttl_ms))
            return True

        acquired: bool = self.transaction("acquire_lease", acquire)
        return acquired

    def extend_lease(self, org_id: str, owner: str, ttl_ms: int) -> bool:
        def extend(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "UPDATE leases SET expires_ms = ? WHERE org_id = ? AND owner = ?", (now_ms() + ttl_ms, org_id, owner)
            )
            return cursor.rowcount == 1

        extended: bool = self.transaction("extend_lease", extend)
        return extended

    def release_lease(self, org_id: str, owner: str) -> None:
        self.transaction("release_lease", lambda db: db.execute("DELETE FROM leases WHERE org_id = ? AND owner = ?", (org_id, owner)))
