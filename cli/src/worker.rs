//! `cobo-oauth worker`: one of several processes sharing a token store, as gunicorn or
//! Celery workers do. Its threads call the protected WaaS endpoint for a while with
//! the tokens their TokenManager hands out, then it prints one JSON line of counts.
//! `make demo` and the multi-process tests run several at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cobo_oauth::{
    file_token_store, redis_token_store, CoboAuth, CoboOAuthError, OAuthClient, ResponseVerifier, Secret, TokenManager,
    TokenManagerConfig, TokenStore,
};

use crate::{flags, load_key, required, target, Failure};

pub(crate) fn worker(args: &[String]) -> Result<(), Failure> {
    let allowed = [
        "client-id", "org-id", "store", "threads", "seconds", "margin-secs", "lease-ttl-ms", "env", "base-url",
        "response-key", "key-file",
    ];
    let flags = flags(args, &allowed)?;
    let number = |name: &str, default: u64| -> Result<u64, Failure> {
        flags.get(name).map_or(Ok(default), |v| v.parse().map_err(|_| Failure::Usage(format!("--{name}: not a number: {v}"))))
    };
    let org_id = required(&flags, "org-id")?.to_owned();
    let client_config = target(&flags)?;
    let base_url = client_config.base_url.clone().unwrap_or_else(|| client_config.environment.base_url().to_owned());
    let verifier = match &client_config.response_public_key {
        Some(key) => ResponseVerifier::with_key(key.clone())?,
        None => ResponseVerifier::new(client_config.environment),
    };
    let key = Arc::new(load_key(&flags)?);
    let client = Arc::new(OAuthClient::new(key.clone(), client_config)?);
    let config = TokenManagerConfig {
        refresh_margin_secs: number("margin-secs", 300)?,
        lease_ttl_ms: number("lease-ttl-ms", 10_000)?,
        ..TokenManagerConfig::default()
    };
    let store = store(required(&flags, "store")?)?;
    let manager = TokenManager::new(client, required(&flags, "client-id")?.into(), Some(store), Some(config))?;
    let auth = CoboAuth::new(key, Arc::new(manager), verifier);
    let http = reqwest::blocking::Client::new();
    let url = format!("{}/wallets", base_url.trim_end_matches('/'));

    let until = Instant::now() + Duration::from_secs(number("seconds", 10)?);
    let (calls, refused, errors) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|scope| {
        for _ in 0..number("threads", 4)? {
            scope.spawn(|| {
                while Instant::now() < until {
                    let request = match http.get(&url).build() {
                        Ok(request) => request,
                        Err(_) => return errors.fetch_add(1, Ordering::Relaxed),
                    };
                    // Any answer but a 200 is a refusal the app sees, whatever its cause:
                    // `send` has already resent what Cobo refused before acting.
                    let counter = match auth.send(&http, request, &org_id) {
                        Ok(response) if response.status == 200 => &calls,
                        Ok(_) => &refused,
                        Err(err) => {
                            eprintln!("worker {}: {err}", std::process::id());
                            &errors
                        }
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(50));
                }
                0
            });
        }
        Ok::<(), Failure>(())
    })?;
    println!(
        "{}",
        serde_json::json!({
            "calls": calls.load(Ordering::Relaxed),
            "refused": refused.load(Ordering::Relaxed),
            "errors": errors.load(Ordering::Relaxed),
        })
    );
    Ok(())
}

fn store(spec: &str) -> Result<Arc<dyn TokenStore>, Failure> {
    match spec.split_once(':') {
        Some(("file", path)) => Ok(file_token_store(path.into(), None)?),
        Some(("redis", prefix)) => {
            let url = std::env::var("COBO_REDIS_URL").map_err(|_| Failure::Usage("--store redis: needs $COBO_REDIS_URL".into()))?;
            Ok(redis_token_store(Secret::new(url), prefix.into(), 2000, None)?)
        }
        _ => Err(Failure::Api(CoboOAuthError::InvalidArgument { reason: "--store must be file:PATH or redis:PREFIX".into() })),
    }
}
