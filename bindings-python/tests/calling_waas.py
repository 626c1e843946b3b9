from typing import Any

import httpx

from cobo_oauth import AppKey, ClientConfig, OAuthClient, ResponseVerifier, TokenManager
from cobo_oauth.httpx_auth import CoboHttpxAuth


def list_wallets(key: AppKey, config: ClientConfig, verifier: ResponseVerifier, client_id: str, org_id: str) -> Any:
    """Lists an organization's wallets with httpx: signed over the query and body httpx
    sends, with the org's always-valid token, the answer's Cobo signature checked.
    ``verifier`` is ``ResponseVerifier(Environment.PROD)`` for Cobo's production API.
    Make the client, manager and auth once in an app and share them."""
    client = OAuthClient(key, config)
    manager = TokenManager(client, client_id)
    # One auth per org, or pass a callable that picks the org from each request.
    auth = CoboHttpxAuth(key, manager, org_id=org_id, verifier=verifier)
    with httpx.Client(base_url=client.base_url(), auth=auth) as http:
        # Cobo answers an expired token with a 500: the manager renews it before this call.
        response = http.get("/wallets", params={"wallet_type": "Custodial", "limit": 10})
        response.raise_for_status()
        return response.json()
