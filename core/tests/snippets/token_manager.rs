use std::sync::Arc;
use cobo_oauth::{file_token_store, AppKey, ClientConfig, CoboOAuthError, Environment, OAuthClient, Secret, TokenManager};

fn main() -> Result<(), CoboOAuthError> {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let key = AppKey::new(Secret::new(var("COBO_APP_PRIVATE_KEY")))?;
    let config = match var("COBO_BASE_URL").as_str() {
        "" => ClientConfig::for_environment(Environment::Sandbox), // or Dev, Prod
        url => ClientConfig::for_base_url(url, var("COBO_RESPONSE_PUBLIC_KEY")), // a proxy, the mock
    };
    let client = Arc::new(OAuthClient::new(Arc::new(key), config)?);
    // Tokens survive restarts in 0600 files, one per org; any TokenStore works (memory is the default).
    let store = file_token_store(std::env::var("COBO_TOKEN_FILE").unwrap_or("cobo-tokens.json".into()), None)?;
    let manager = TokenManager::new(client, var("COBO_CLIENT_ID"), Some(store), None)?;

    // From any thread: a cached token while more than 5 minutes are left, else one
    // refresh shared by every concurrent caller for that org.
    match manager.authorization_header(var("COBO_ORG_ID")) {
        Ok(header) => println!("send it as the Authorization header ({} chars)", header.expose().len()),
        Err(CoboOAuthError::AuthorizationRequired { org_id, .. }) => {
            println!("{org_id} must authorize the app again")
        }
        Err(other) => return Err(other), // transient: the stored tokens are untouched
    }
    Ok(())
}
