import os

from cobo_oauth import AppKey, ClientConfig, CoboOAuthError, Environment, OAuthClient, OAuthError

# The app's Ed25519 key, a 64-hex-char seed. AppKey.generate() makes a new one:
# register key.api_key() with Cobo, keep key.private_key_hex() secret.
key = AppKey(os.environ["COBO_APP_PRIVATE_KEY"])

# COBO_ENV names Cobo's environment (dev, sandbox or prod); COBO_BASE_URL may point
# elsewhere (a proxy, the mock server), with the key that signs its answers in
# COBO_RESPONSE_PUBLIC_KEY.
config = ClientConfig(
    environment=Environment[os.environ.get("COBO_ENV", "sandbox").upper()],
    base_url=os.environ.get("COBO_BASE_URL"),
    response_public_key=os.environ.get("COBO_RESPONSE_PUBLIC_KEY"),
)
client = OAuthClient(key, config)  # one client for the whole app: it is thread-safe

client_id, org_id = os.environ["COBO_CLIENT_ID"], os.environ["COBO_ORG_ID"]
token = client.get_org_token(client_id, org_id)
print(token)  # OrgToken(access_token='…', token_type='Bearer', ..., refresh_token='…', ...)
headers = {"Authorization": f"Bearer {token.access_token}"}

# Refresh by the clock (token.expires_at), not on an error: Cobo answers an expired
# access token with a 500. Each refresh spends the refresh token and returns a new one.
spent = token.refresh_token
token = client.refresh_org_token(client_id, spent)
print("refreshed; expires at", token.expires_at.isoformat())

try:
    client.refresh_org_token(client_id, spent)
except OAuthError as err:  # Cobo refused the request (4XX)
    print(err.status, err.error)  # 400 invalid_grant: the org must authorize the app again
except CoboOAuthError as err:  # ServerError (quote err.error_id), TransportError, ...
    print("try again later:", err)
