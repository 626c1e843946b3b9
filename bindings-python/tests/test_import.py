"""`import cobo_oauth` stays light: asyncio is imported when an async class is first
used, and logging when the core logs its first record, not at import. (How long the
import takes is the bench's business: bench/python/bench.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("asyncio", "logging")

PROBE = """
import sys
before = set(sys.modules)
{statement}
print(" ".join(sorted(name for name in {heavy!r} if name in set(sys.modules) - before)))
"""


def run(statement: str, cwd: Path) -> tuple[list[str], str]:
    """Which of HEAVY a fresh interpreter imports to run `statement` (out of the source
    tree, so that `cobo_oauth` is the installed package), and what it wrote to stderr."""
    code = PROBE.format(statement=statement, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.split(), done.stderr


def imported_by(statement: str, cwd: Path) -> list[str]:
    return run(statement, cwd)[0]


def test_import_cobo_oauth_imports_neither_asyncio_nor_logging(tmp_path: Path) -> None:
    assert imported_by("import cobo_oauth", tmp_path) == []
    assert imported_by("from cobo_oauth import TokenManager, OAuthClient, AppKey", tmp_path) == []


def test_the_async_classes_import_asyncio_on_first_use(tmp_path: Path) -> None:
    """(asyncio imports logging itself.)"""
    statement = "import cobo_oauth; assert cobo_oauth.AsyncTokenManager.__module__ == 'cobo_oauth.aio'"
    assert "asyncio" in imported_by(statement, tmp_path)
    assert "asyncio" in imported_by("from cobo_oauth import *", tmp_path)


def test_the_first_log_record_imports_logging_and_reaches_it(tmp_path: Path) -> None:
    """A renewal that fails (nothing listens at the token URL) logs a warning: logging
    is imported then, and the record reaches it (with no handler set, logging's last
    resort prints it to stderr)."""
    statement = """
import cobo_oauth
key = cobo_oauth.AppKey.generate()
config = cobo_oauth.ClientConfig(base_url="http://127.0.0.1:9/v2", response_public_key=key.api_key(), max_retries=0)
manager = cobo_oauth.TokenManager(cobo_oauth.OAuthClient(key, config), "py-import-app")
try:
    manager.access_token("py-import-org")
except cobo_oauth.CoboOAuthError:
    pass
"""
    imported, stderr = run(statement, tmp_path)
    assert imported == ["logging"]
    assert "renewal failed" in stderr and "org_id=py-import-org" in stderr, stderr
