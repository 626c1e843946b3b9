"""Token round trips against the local mock server: cobo_oauth's OAuthClient against the
official SDK's OAuthApi (cobo-waas2). Each signs, sends over kept-alive loopback
connections, verifies the response signature and parses the token; the server's share of
the time is the same for both, so the ratio understates the client-side difference.
Usage: bench_token.py [path/to/cobo-oauth-mock]; run by bindings-python/bench/run.sh.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

import cobo_oauth

MOCK = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "target/release/cobo-oauth-mock"
CLIENT_ID, SDK_CLIENT_ID, ORG_ID = "bench-app", "bench-app-sdk", "bench-org"
SDK_KEYS = 8


def rate(operation: Callable[[], object], count: int = 300, rounds: int = 3) -> float:
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(count):
            operation()
        best = max(best, count / (time.perf_counter() - start))
    return best


def main() -> None:
    try:
        from cobo_waas2 import ApiClient, Configuration, RefreshTokenRequest
        from cobo_waas2.api.o_auth_api import OAuthApi
    except ImportError:
        print("cobo-waas2 is not installed: no token round-trip comparison")
        return
    mock = subprocess.Popen([str(MOCK)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert mock.stdout is not None
        info: dict[str, Any] = json.loads(mock.stdout.readline())
        # The SDK's nonce is the wall-clock millisecond, so one key reuses nonces (and the
        # server refuses the request) above 1000 requests/s: give it keys to rotate through.
        key = cobo_oauth.AppKey.generate()
        sdk_apps = [(f"{SDK_CLIENT_ID}-{i}", cobo_oauth.AppKey.generate()) for i in range(SDK_KEYS)]
        for client_id, app_key in [(CLIENT_ID, key), *sdk_apps]:
            register = {"client_id": client_id, "api_key": app_key.api_key(), "orgs": [ORG_ID]}
            request = urllib.request.Request(info["control_url"] + "/apps", json.dumps(register).encode(), method="POST")
            urllib.request.urlopen(request).read()

        config = cobo_oauth.ClientConfig(base_url=info["base_url"], response_public_key=info["response_public_key"])
        ours = cobo_oauth.OAuthClient(key, config)

        class MockConfiguration(Configuration):  # the SDK only knows the keys of Cobo's three hosts
            @property
            def resp_pubkey(self) -> str:
                return str(info["response_public_key"])

        sdks = [
            (client_id, OAuthApi(ApiClient(MockConfiguration(api_private_key=k.private_key_hex(), host=info["base_url"]))))
            for client_id, k in sdk_apps
        ]
        ours_token = [ours.get_org_token(CLIENT_ID, ORG_ID).refresh_token]
        sdk_tokens = [api.get_token(client_id, ORG_ID, "org_implicit").refresh_token for client_id, api in sdks]
        turn = itertools.count()

        def sdk_get() -> None:
            client_id, api = sdks[next(turn) % SDK_KEYS]
            api.get_token(client_id, ORG_ID, "org_implicit")

        def ours_refresh() -> None:
            ours_token[0] = ours.refresh_org_token(CLIENT_ID, ours_token[0]).refresh_token

        def sdk_refresh() -> None:
            i = next(turn) % SDK_KEYS
            client_id, api = sdks[i]
            body = RefreshTokenRequest(client_id=client_id, grant_type="refresh_token", refresh_token=sdk_tokens[i])
            sdk_tokens[i] = api.refresh_token(body).refresh_token

        rows = {
            "get org token": (lambda: ours.get_org_token(CLIENT_ID, ORG_ID), sdk_get),
            "refresh org token": (ours_refresh, sdk_refresh),
        }
        print("\nToken round trips against the local mock server (sequential, kept-alive connections)")
        for name, (ours_op, sdk_op) in rows.items():
            ours_rate, sdk_rate = rate(ours_op), rate(sdk_op)
            print(f"  {name:<18} cobo_oauth {ours_rate:7,.0f}/s   cobo-waas2 SDK {sdk_rate:7,.0f}/s   "
                  f"cobo_oauth is {ours_rate / sdk_rate:.2f}x faster")
    finally:
        assert mock.stdin is not None
        mock.stdin.close()
        mock.wait(timeout=10)


if __name__ == "__main__":
    main()
