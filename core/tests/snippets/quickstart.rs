use std::sync::Arc;
use cobo_oauth::{AppKey, ClientConfig, CoboOAuthError, Environment, OAuthClient, Secret};

fn main() -> Result<(), CoboOAuthError> {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    // The app's Ed25519 seed (64 hex chars). AppKey::generate() makes a new one;
    // register key.api_key() with Cobo.
    let key = AppKey::new(Secret::new(var("COBO_APP_PRIVATE_KEY")))?;
    let config = match var("COBO_BASE_URL").as_str() {
        "" => ClientConfig::for_environment(Environment::Sandbox), // or Dev, Prod
        url => ClientConfig::for_base_url(url, var("COBO_RESPONSE_PUBLIC_KEY")), // a proxy, the mock
    };
    // One client per app: it pools connections and is safe to share between threads.
    let client = OAuthClient::new(Arc::new(key), config)?;

    let token = client.get_org_token(var("COBO_CLIENT_ID"), var("COBO_ORG_ID"))?;
    println!("{token:?}"); // tokens print as Secret(…)
    // Send `Authorization: Bearer {token.access_token.expose()}`; refresh before token.expires_at.
    match client.refresh_org_token(var("COBO_CLIENT_ID"), token.refresh_token) {
        Ok(fresh) => println!("store the new refresh token; expires {:?}", fresh.expires_at),
        Err(CoboOAuthError::OAuth { error, .. }) if error == "invalid_grant" => {
            println!("the refresh token is spent or expired: the org must authorize the app again")
        }
        Err(other) => return Err(other),
    }
    Ok(())
}
