from typing import Any

from cobo_waas2 import Configuration, WalletsApi

from cobo_oauth import TokenManager
from cobo_oauth.waas2 import org_api_client


def list_wallets_with_the_sdk(configuration: Configuration, manager: TokenManager, org_id: str) -> Any:
    """Cobo's official SDK, acting for an organization: every call of every generated
    API class carries the manager's always-valid Org Access Token. ``configuration``
    is the SDK's own (``api_private_key``, ``host``); it still signs each request."""
    api_client = org_api_client(configuration, manager, org_id)
    return WalletsApi(api_client).list_wallets(limit=10)
