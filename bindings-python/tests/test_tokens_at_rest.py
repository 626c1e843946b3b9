"""Tokens at rest: what the file and Redis stores write holds no token, opens for its own
org only; a clear-text record older versions wrote is read once and sealed; a record
sealed under another key counts as missing (a new grant, logged once per org without
content). A store of your own seals with StoreKey.seal / StoreKey.open."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timezone
from pathlib import Path
from typing import Any, Callable

import pytest
import redis

import cobo_oauth
from cobo_oauth import (
    AppKey,
    InvalidArgumentError,
    OAuthClient,
    StoredToken,
    StoreKey,
    TokenManager,
    TokenStore,
    coordinated_token_store,
    file_token_store,
    redis_token_store,
)
from conftest import CLIENT_ID, ORG_ID, Mock, redis_url
from sqlite_store import SqliteStore

OTHER_ORG = "org-at-rest-other"


@pytest.fixture
def app(mock: Mock, app_key: AppKey) -> Mock:
    """The mock with the app installed in two orgs."""
    mock.register(CLIENT_ID, app_key.api_key(), [ORG_ID, OTHER_ORG])
    return mock


def manager(mock: Mock, app_key: AppKey, store: Any) -> TokenManager:
    return TokenManager(OAuthClient(app_key, mock.config_for()), CLIENT_ID, store)


def tokens_after_a_refresh(mock: Mock, app_key: AppKey, store: TokenStore) -> tuple[list[str], StoredToken]:
    """A first token, then a refresh: every token the store has held, and its last record."""
    held = manager(mock, app_key, store)
    seen = []
    for _ in range(2):
        held.access_token(ORG_ID)
        stored = store.load(ORG_ID)
        assert stored is not None
        seen += [stored.token.access_token, stored.token.refresh_token]
        held.invalidate(ORG_ID, stored.token.access_token)
    assert mock.counters()["refresh"] == 1
    return seen, stored


def assert_no_token_in(raw: bytes, tokens: list[str]) -> None:
    """No token, nor any 9 characters of one."""
    for token in tokens:
        assert len(token) > 8
        parts = {token[i : i + 9].encode() for i in range(len(token) - 8)}
        assert not any(part in raw for part in parts), "part of a token is stored in clear text"


def every_byte(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file())


def redis_bytes(prefix: str) -> bytes:
    raw = redis.Redis.from_url(redis_url())
    keys = raw.keys(f"{prefix}*")
    assert keys
    values: list[bytes] = []
    for key in keys:
        if raw.type(key) == b"hash":
            values += [v for pair in raw.hgetall(key).items() for v in pair]
        else:
            values.append(raw.get(key) or b"")
    return b"".join(values)


def clear_text(stored: StoredToken) -> dict[str, Any]:
    """The record as versions before sealing wrote it."""
    ms = lambda t: int(t.astimezone(timezone.utc).timestamp() * 1000)  # noqa: E731
    token = stored.token
    return {
        "access_token": token.access_token,
        "token_type": token.token_type,
        "scope": token.scope,
        "expires_in": token.expires_in,
        "refresh_token": token.refresh_token,
        "expires_at_ms": ms(token.expires_at),
        "refresh_expires_at_ms": ms(stored.refresh_expires_at),
    }


def test_the_token_files_hold_no_token(app: Mock, app_key: AppKey, tmp_path: Path) -> None:
    tokens, _ = tokens_after_a_refresh(app, app_key, file_token_store(tmp_path / "tokens.json"))
    assert_no_token_in(every_byte(tmp_path), tokens)


def test_redis_holds_no_token(app: Mock, app_key: AppKey) -> None:
    prefix = f"at-rest-{uuid.uuid4().hex}:"
    tokens, _ = tokens_after_a_refresh(app, app_key, redis_token_store(redis_url(), prefix))
    assert_no_token_in(redis_bytes(prefix), tokens)


def test_a_record_copied_to_another_org_does_not_open(app: Mock, app_key: AppKey, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    first = manager(app, app_key, file_token_store(path))
    token = first.access_token(ORG_ID)
    [record] = path.glob("*.json")
    first.access_token(OTHER_ORG)
    [other] = [p for p in path.glob("*.json") if p != record]
    moved = json.loads(record.read_text())
    moved["org_id"] = OTHER_ORG
    other.write_text(json.dumps(moved))

    gets = app.counters()["get"]
    assert manager(app, app_key, file_token_store(path)).access_token(OTHER_ORG) != token
    assert app.counters()["get"] == gets + 1, "the copied record was refused: a new grant"


def test_a_clear_text_token_file_is_served_once_read_and_sealed(app: Mock, app_key: AppKey, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    tokens, stored = tokens_after_a_refresh(app, app_key, file_token_store(path))
    [record] = path.glob("*.json")
    record.write_text(json.dumps({"org_id": ORG_ID, "version": 2, **clear_text(stored)}))

    before = app.counters()
    assert manager(app, app_key, file_token_store(path)).access_token(ORG_ID) == stored.token.access_token
    after = app.counters()
    assert (after["get"], after["refresh"]) == (before["get"], before["refresh"]), "nothing was renewed"
    assert_no_token_in(every_byte(tmp_path), tokens)


def test_a_clear_text_redis_record_is_served_once_read_and_sealed(app: Mock, app_key: AppKey) -> None:
    prefix = f"at-rest-{uuid.uuid4().hex}:"
    tokens, stored = tokens_after_a_refresh(app, app_key, redis_token_store(redis_url(), prefix))
    redis.Redis.from_url(redis_url()).hset(f"{prefix}token:{ORG_ID}", "token", json.dumps(clear_text(stored)))

    before = app.counters()
    assert manager(app, app_key, redis_token_store(redis_url(), prefix)).access_token(ORG_ID) == stored.token.access_token
    after = app.counters()
    assert (after["get"], after["refresh"]) == (before["get"], before["refresh"]), "nothing was renewed"
    assert_no_token_in(redis_bytes(prefix), tokens)


@pytest.mark.parametrize("kind", ["file", "redis"])
def test_after_a_key_change_a_record_counts_as_missing_and_is_logged_once(
    app: Mock, app_key: AppKey, tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    prefix = f"at-rest-{uuid.uuid4().hex}:"
    store: Callable[[StoreKey], TokenStore] = {
        "file": lambda key: file_token_store(tmp_path / "tokens.json", key),
        "redis": lambda key: redis_token_store(redis_url(), prefix, store_key=key),
    }[kind]
    old = manager(app, app_key, store(StoreKey.from_bytes(bytes(32))))
    token = old.access_token(ORG_ID)

    rotated = store(StoreKey.from_bytes(b"\x01" * 32))
    with caplog.at_level(logging.WARNING, logger="cobo_oauth"):
        assert rotated.load(ORG_ID) is None
        assert rotated.load(ORG_ID) is None
        renewed = manager(app, app_key, rotated).access_token(ORG_ID)
    assert renewed != token
    assert (app.counters()["get"], app.counters()["refresh"]) == (2, 0), "a new grant; nothing spent"
    unopened = [r for r in caplog.records if "does not open" in r.getMessage()]
    assert len(unopened) == 1, "logged once per org"
    assert token not in caplog.text and renewed not in caplog.text


def test_a_store_of_your_own_seals_with_the_store_key(app: Mock, app_key: AppKey, tmp_path: Path) -> None:
    key = StoreKey.from_app_key(app_key)
    sqlite = SqliteStore(str(tmp_path / "tokens.db"), key)
    tokens, _ = tokens_after_a_refresh(app, app_key, coordinated_token_store(sqlite))
    assert_no_token_in((tmp_path / "tokens.db").read_bytes(), tokens)
    # What it sealed opens for its org only, with this key only.
    record = sqlite.connection().execute("SELECT token FROM tokens WHERE org_id = ?", (ORG_ID,)).fetchone()[0]
    opened = key.open(ORG_ID, record)
    assert opened is not None and opened.token.access_token == tokens[2]
    assert key.open(OTHER_ORG, record) is None
    assert StoreKey.from_bytes(bytes(32)).open(ORG_ID, record) is None
    with pytest.raises(InvalidArgumentError):
        key.open(ORG_ID, b'{"access_token": "x"}')


def test_a_store_key_is_32_bytes_and_never_shown(app_key: AppKey) -> None:
    with pytest.raises(InvalidArgumentError):
        StoreKey.from_bytes(bytes(31))
    key = StoreKey.from_bytes(bytes(range(32)))
    assert repr(key) == "StoreKey(…)"
    assert cobo_oauth.StoreKey is StoreKey
    assert "StoreKey(…)" == repr(StoreKey.from_app_key(app_key))
