"""What both deployment apps (deploy_wsgi_app.py, deploy_asgi_app.py) build at import,
as a user's settings module would: the app key, a client, one TokenManager on the shared
token store, the response verifier. Read from the environment the test sets:

  COBO_DEPLOY_SETTINGS  JSON {"base_url", "response_public_key", "client_id", "org_id",
                        "margin_secs", "store": {"kind": "file", "path"} | {"kind": "redis", "prefix"},
                        "ready_dir"}
  COBO_APP_PRIVATE_KEY      the app key (never argv: `ps` shows argv)
  COBO_REDIS_URL        for the Redis store

Nothing here configures the nonce clock: every process of the host shares it by default.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cobo_oauth
from cobo_oauth import AppKey, ClientConfig, OAuthClient, ResponseVerifier, TokenManager, TokenManagerConfig

SETTINGS: dict[str, Any] = json.loads(os.environ["COBO_DEPLOY_SETTINGS"])
ORG_ID: str = SETTINGS["org_id"]
WALLETS_URL: str = SETTINGS["base_url"] + "/wallets"


def token_store() -> cobo_oauth.TokenStore:
    spec = SETTINGS["store"]
    if spec["kind"] == "file":
        return cobo_oauth.file_token_store(spec["path"])
    if spec["kind"] == "redis":
        return cobo_oauth.redis_token_store(os.environ["COBO_REDIS_URL"], spec["prefix"])
    raise ValueError(f"unknown store kind {spec['kind']!r}")


def build() -> tuple[AppKey, TokenManager, ResponseVerifier]:
    key = AppKey(os.environ["COBO_APP_PRIVATE_KEY"])
    client = OAuthClient(
        key, ClientConfig(base_url=SETTINGS["base_url"], response_public_key=SETTINGS["response_public_key"])
    )
    manager = TokenManager(
        client, SETTINGS["client_id"], token_store(), TokenManagerConfig(refresh_margin_secs=SETTINGS["margin_secs"])
    )
    return key, manager, ResponseVerifier.with_key(SETTINGS["response_public_key"])


def mark_ready() -> None:
    """Tells the test this worker process is up: a file named by its pid."""
    Path(SETTINGS["ready_dir"], str(os.getpid())).touch()
