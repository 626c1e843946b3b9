"""The WSGI app of test_deploy.py, as a Flask or Django user deploys one behind
`gunicorn --preload --workers 4 --threads 4`: the key, the TokenManager on the shared
store and the requests hook are made at import, in gunicorn's master, before it forks
the workers. Every request calls Cobo's /v2/wallets (the mock) through
`CoboRequestsAuth` and answers `<worker pid> <Cobo's status>`: 200 when Cobo accepted
the call, 502 when it did not, 500 with the exception when the call raised.

`GET /ready` answers without calling Cobo (the test's readiness probe).
"""

from __future__ import annotations

import os
import threading
import traceback
from typing import Any, Callable, Iterable

import requests

from cobo_oauth.requests_auth import CoboRequestsAuth
from deploy_common import ORG_ID, WALLETS_URL, build

key, manager, verifier = build()
auth = CoboRequestsAuth(key, manager, ORG_ID, verifier)

# One requests.Session per thread: each worker thread keeps its connection to Cobo.
_local = threading.local()


def _session() -> requests.Session:
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/ready":
        status, text = "200 OK", "ready"
    else:
        try:
            response = _session().get(WALLETS_URL, params={"limit": 10}, auth=auth, timeout=15)
            status = "200 OK" if response.status_code == 200 else "502 Bad Gateway"
            text = f"{os.getpid()} {response.status_code} {response.text[:300]}"
        except Exception:
            status, text = "500 Internal Server Error", f"{os.getpid()} {traceback.format_exc()}"
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
