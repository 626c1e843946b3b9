use std::sync::Arc;

use cobo_oauth::{AppKey, ClientConfig, CoboAuth, OAuthClient, ResponseVerifier, TokenManager};

/// Lists an organization's wallets: one WaaS call through reqwest's blocking client,
/// signed over the query and body reqwest sends, with the org's always-valid token,
/// its answer's Cobo signature checked. Build the `CoboAuth` once and share it.
pub fn list_wallets(
    key: Arc<AppKey>,
    config: ClientConfig,         // ClientConfig::for_environment(Environment::Prod), …
    verifier: ResponseVerifier,   // ResponseVerifier::new(Environment::Prod), …
    client_id: &str,
    org_id: &str,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let client = Arc::new(OAuthClient::new(key.clone(), config)?);
    let base_url = client.base_url();
    let manager = Arc::new(TokenManager::new(client, client_id.to_owned(), None, None)?);
    let auth = CoboAuth::new(key, manager, verifier);

    let http = reqwest::blocking::Client::new();
    let request = http
        .get(format!("{base_url}/wallets"))
        .query(&[("wallet_type", "Custodial"), ("limit", "10")])
        .build()?;
    // Cobo answers an expired token with a 500: the manager renews it before this call.
    let response = auth.send(&http, request, org_id)?;
    if !response.status.is_success() {
        return Err(format!("WaaS answered {}", response.status).into());
    }
    Ok(serde_json::from_slice(&response.body)?)
}
