//! The `cobo-oauth` command: keys, tokens, signatures and the mock server from a shell.
//! Keys and refresh tokens come from the environment or files, never from argv
//! (argv is visible to every user of the machine through `ps`).

mod worker;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use cobo_oauth::{
    AppKey, ClientConfig, CoboOAuthError, DELIVERY_MAX_AGE_SECS, Environment, OAuthClient, OrgToken, ResponseVerifier, Secret,
    TokenManager,
};

const USAGE: &str = "\
cobo-oauth: Cobo WaaS 2.0 OAuth for Portal Apps

USAGE:
  cobo-oauth keygen [--out FILE]
  cobo-oauth token get [--client-id ID] [--org-id ID] [TARGET] [KEY]
  cobo-oauth token refresh [--client-id ID] [--refresh-token-file FILE] [TARGET] [KEY]
  cobo-oauth sign --method METHOD --path PATH [--query QUERY] [--body BODY | --body-file FILE] [--nonce N] [KEY]
  cobo-oauth verify-webhook --timestamp TS --signature HEX [--body-file FILE] [--max-age-secs S]
                            [--env ENV | --response-key HEX]
  cobo-oauth mock [MOCK FLAGS]     run the mock Cobo server (see `cobo-oauth mock --help`)
  cobo-oauth demo                  run the embedded mock and walk through get, refresh, rotation,
                                   the token manager, and worker processes sharing one store
  cobo-oauth worker --client-id ID --org-id ID --store file:PATH|redis:PREFIX
                    [--threads N] [--seconds S] [--margin-secs M] [--lease-ttl-ms MS] [TARGET] [KEY]
                                   one of several processes sharing a store: N threads call the
                                   protected endpoint for S seconds; prints {\"calls\",\"refused\",\"errors\"}
                                   (redis: the URL comes from $COBO_REDIS_URL)

TARGET: --env dev|sandbox|prod | --base-url URL --response-key HEX (a proxy or the mock
        server); else $COBO_BASE_URL with $COBO_RESPONSE_PUBLIC_KEY, else $COBO_ENV, else prod (said on stderr)
KEY:    --key-file FILE or $COBO_APP_PRIVATE_KEY (64 hex chars; $COBO_PRIVATE_KEY, deprecated)
--client-id and --org-id default to $COBO_CLIENT_ID and $COBO_ORG_ID.
The refresh token is read from $COBO_REFRESH_TOKEN or --refresh-token-file.
verify-webhook reads the body from --body-file or stdin; TS must be within --max-age-secs
(300) of this host's clock, either way, as every language's verify_delivery checks.
`token` prints the token as JSON on stdout (it contains the tokens).
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("keygen") => keygen(&args[1..]),
        Some("token") => token(&args[1..]),
        Some("sign") => sign(&args[1..]),
        Some("verify-webhook") => verify_webhook(&args[1..]),
        Some("mock") => return ExitCode::from(exit_code(cobo_oauth_mock::run_cli(args[1..].to_vec()))),
        Some("demo") => demo(),
        Some("worker") => worker::worker(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(Failure::Usage("expected a command".into())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Api(err)) => {
            eprintln!("error: {err}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    Usage(String),
    Api(CoboOAuthError),
}

impl From<CoboOAuthError> for Failure {
    fn from(err: CoboOAuthError) -> Self {
        Failure::Api(err)
    }
}

fn exit_code(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}

/// `--flag value` pairs; every flag takes exactly one value.
fn flags(args: &[String], allowed: &[&str]) -> Result<HashMap<String, String>, Failure> {
    let mut map = HashMap::new();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let name = flag.strip_prefix("--").filter(|name| allowed.contains(name));
        let name = name.ok_or_else(|| Failure::Usage(format!("unknown argument {flag:?}")))?;
        let value = rest.next().ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))?;
        map.insert(name.to_owned(), value.clone());
    }
    Ok(map)
}

fn required<'a>(flags: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Failure> {
    flags.get(name).map(String::as_str).ok_or_else(|| Failure::Usage(format!("--{name} is required")))
}

fn read_file(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::Usage(format!("cannot read {path}: {e}")))
}

/// `--name`, else the environment variable every language's examples read.
fn flag_or_env(flags: &HashMap<String, String>, name: &str, variable: &str) -> Result<String, Failure> {
    match flags.get(name) {
        Some(value) => Ok(value.clone()),
        None => std::env::var(variable).map_err(|_| Failure::Usage(format!("pass --{name} or set {variable}"))),
    }
}

/// The variable the key used to be read from, before one scheme covered every language.
const DEPRECATED_KEY_VARIABLE: &str = "COBO_PRIVATE_KEY";

fn load_key(flags: &HashMap<String, String>) -> Result<AppKey, Failure> {
    let hex = match flags.get("key-file") {
        Some(path) => read_file(path)?,
        None => match std::env::var("COBO_APP_PRIVATE_KEY") {
            Ok(hex) => hex,
            Err(_) => {
                let hex = std::env::var(DEPRECATED_KEY_VARIABLE)
                    .map_err(|_| Failure::Usage("set COBO_APP_PRIVATE_KEY or pass --key-file".into()))?;
                eprintln!("warning: {DEPRECATED_KEY_VARIABLE} is deprecated; set COBO_APP_PRIVATE_KEY instead");
                hex
            }
        },
    };
    Ok(AppKey::new(Secret::new(hex))?)
}

fn environment(name: &str) -> Result<Environment, Failure> {
    match name.to_ascii_lowercase().as_str() {
        "dev" => Ok(Environment::Dev),
        "sandbox" => Ok(Environment::Sandbox),
        "prod" => Ok(Environment::Prod),
        _ => Err(Failure::Usage(format!("unknown environment {name:?} (dev, sandbox, prod)"))),
    }
}

fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// `--env`, else `$COBO_ENV`, else prod, said on stderr: a forgotten variable must not
/// pass for a sandbox call.
fn chosen_environment(flags: &HashMap<String, String>) -> Result<Environment, Failure> {
    match flags.get("env").cloned().or_else(|| variable("COBO_ENV")) {
        Some(name) => environment(&name),
        None => {
            eprintln!("note: no --env or COBO_ENV (nor a base URL): using Cobo's production environment");
            Ok(Environment::Prod)
        }
    }
}

/// Flags first, then the environment: `--base-url`/`--response-key`, `--env`,
/// `$COBO_BASE_URL`/`$COBO_RESPONSE_PUBLIC_KEY` (a proxy or the mock), `$COBO_ENV`, prod.
fn target(flags: &HashMap<String, String>) -> Result<ClientConfig, Failure> {
    match (flags.get("base-url"), flags.get("response-key")) {
        (Some(url), Some(key)) => Ok(ClientConfig::for_base_url(url.as_str(), key.as_str())),
        (Some(_), None) => Err(Failure::Usage("--base-url needs --response-key".into())),
        (None, _) => {
            if flags.contains_key("env") {
                return Ok(ClientConfig::for_environment(chosen_environment(flags)?));
            }
            match (variable("COBO_BASE_URL"), variable("COBO_RESPONSE_PUBLIC_KEY")) {
                (Some(url), Some(key)) => Ok(ClientConfig::for_base_url(url.as_str(), key.as_str())),
                (Some(_), None) => Err(Failure::Usage("COBO_BASE_URL needs COBO_RESPONSE_PUBLIC_KEY".into())),
                (None, _) => Ok(ClientConfig::for_environment(chosen_environment(flags)?)),
            }
        }
    }
}

fn keygen(args: &[String]) -> Result<(), Failure> {
    let flags = flags(args, &["out"])?;
    let key = AppKey::generate()?;
    match flags.get("out") {
        Some(path) => {
            write_private(path, key.private_key_hex().expose())?;
            println!("api_key: {}", key.api_key());
            eprintln!("private key written to {path} (mode 0600); register the api_key with Cobo");
        }
        None => {
            println!("api_key: {}", key.api_key());
            println!("private_key: {}", key.private_key_hex().expose());
        }
    }
    Ok(())
}

fn write_private(path: &str, contents: &str) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| Failure::Usage(format!("cannot create {path}: {e}")))?;
    writeln!(file, "{contents}").map_err(|e| Failure::Usage(format!("cannot write {path}: {e}")))
}

fn token(args: &[String]) -> Result<(), Failure> {
    const COMMON: [&str; 5] = ["client-id", "env", "base-url", "response-key", "key-file"];
    let (operation, rest) = args.split_first().ok_or_else(|| Failure::Usage("token get|refresh".into()))?;
    let token = match operation.as_str() {
        "get" => {
            let flags = flags(rest, &[&COMMON[..], &["org-id"]].concat())?;
            let client = OAuthClient::new(Arc::new(load_key(&flags)?), target(&flags)?)?;
            client.get_org_token(flag_or_env(&flags, "client-id", "COBO_CLIENT_ID")?, flag_or_env(&flags, "org-id", "COBO_ORG_ID")?)?
        }
        "refresh" => {
            let flags = flags(rest, &[&COMMON[..], &["refresh-token-file"]].concat())?;
            let refresh_token = match flags.get("refresh-token-file") {
                Some(path) => read_file(path)?.trim().to_owned(),
                None => std::env::var("COBO_REFRESH_TOKEN")
                    .map_err(|_| Failure::Usage("set COBO_REFRESH_TOKEN or pass --refresh-token-file".into()))?,
            };
            let client = OAuthClient::new(Arc::new(load_key(&flags)?), target(&flags)?)?;
            client.refresh_org_token(flag_or_env(&flags, "client-id", "COBO_CLIENT_ID")?, Secret::new(refresh_token))?
        }
        other => return Err(Failure::Usage(format!("unknown token operation {other:?}"))),
    };
    println!("{}", token_json(&token));
    Ok(())
}

fn token_json(token: &OrgToken) -> String {
    let expires_at = token
        .expires_at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    serde_json::json!({
        "access_token": token.access_token.expose(),
        "token_type": token.token_type,
        "scope": token.scope,
        "expires_in": token.expires_in,
        "refresh_token": token.refresh_token.expose(),
        "expires_at": expires_at,
    })
    .to_string()
}

fn sign(args: &[String]) -> Result<(), Failure> {
    let flags = flags(args, &["method", "path", "query", "body", "body-file", "nonce", "key-file"])?;
    let key = load_key(&flags)?;
    let body = match (flags.get("body"), flags.get("body-file")) {
        (Some(_), Some(_)) => return Err(Failure::Usage("pass --body or --body-file, not both".into())),
        (Some(body), None) => body.clone(),
        (None, Some(path)) => read_file(path)?,
        (None, None) => String::new(),
    };
    let method = required(&flags, "method")?.to_ascii_uppercase();
    let path = required(&flags, "path")?.to_owned();
    let query = flags.get("query").cloned().unwrap_or_default();
    let signed = match flags.get("nonce") {
        Some(nonce) => key.sign_request_with_nonce(method, path, query, body, nonce.clone()),
        None => key.sign_request(method, path, query, body),
    };
    println!("Biz-Api-Key: {}", signed.api_key);
    println!("Biz-Api-Nonce: {}", signed.nonce);
    println!("Biz-Api-Signature: {}", signed.signature);
    eprintln!("signed content: {}", signed.content.expose());
    eprintln!("digest: {}", signed.digest);
    Ok(())
}

fn verify_webhook(args: &[String]) -> Result<(), Failure> {
    let flags = flags(args, &["timestamp", "signature", "body-file", "max-age-secs", "env", "response-key"])?;
    let max_age_secs = match flags.get("max-age-secs") {
        Some(value) => value.parse().map_err(|_| Failure::Usage(format!("--max-age-secs {value:?}: a whole number of seconds")))?,
        None => DELIVERY_MAX_AGE_SECS,
    };
    let body = match flags.get("body-file") {
        Some(path) => std::fs::read(path).map_err(|e| Failure::Usage(format!("cannot read {path}: {e}")))?,
        None => {
            let mut body = Vec::new();
            std::io::stdin().read_to_end(&mut body).map_err(|e| Failure::Usage(format!("stdin: {e}")))?;
            body
        }
    };
    let verifier = match flags.get("response-key") {
        Some(key) => ResponseVerifier::with_key(key.clone())?,
        None => ResponseVerifier::new(chosen_environment(&flags)?),
    };
    // The library's delivery check, so a replayed (stale) or future-dated delivery is
    // refused here as in every binding; its error names the window.
    let headers = HashMap::from([
        ("Biz-Timestamp".to_owned(), required(&flags, "timestamp")?.to_owned()),
        ("Biz-Resp-Signature".to_owned(), required(&flags, "signature")?.to_owned()),
    ]);
    verifier.verify_delivery(body, headers, max_age_secs)?;
    println!("valid: signed by Cobo, Biz-Timestamp within {max_age_secs} s");
    Ok(())
}

/// A secret's fingerprint: enough to see that tokens rotate, useless to an attacker.
fn redacted(secret: &Secret) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(secret.expose().as_bytes());
    let prefix: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("<redacted sha256:{prefix}…>")
}

fn demo() -> Result<(), Failure> {
    use cobo_oauth_mock::{App, MockConfig, MockServer};
    let server = MockServer::start(MockConfig::default())
        .map_err(|e| Failure::Usage(format!("cannot start the mock server: {e}")))?;
    println!("1. Started the mock Cobo server at {}", server.base_url());
    println!("   its response key: {}", server.response_public_key());

    let key = AppKey::generate()?;
    let (client_id, org_id) = ("demo-portal-app", "demo-org");
    server.register_app(App { client_id: client_id.into(), api_key: key.api_key(), orgs: vec![org_id.into()] });
    println!("2. Generated an app key; registered its API key {} for {client_id}", key.api_key());

    let client = OAuthClient::new(
        Arc::new(key),
        ClientConfig::for_base_url(server.base_url(), server.response_public_key()),
    )?;
    let token = client.get_org_token(client_id.into(), org_id.into())?;
    println!("3. GET /oauth/token (org_implicit): signed request, verified response");
    print_token(&token);

    let refreshed = client.refresh_org_token(client_id.into(), token.refresh_token.clone())?;
    println!("4. POST /oauth/token (refresh_token): new tokens, the old refresh token is spent");
    print_token(&refreshed);

    match client.refresh_org_token(client_id.into(), token.refresh_token.clone()) {
        Err(CoboOAuthError::OAuth { status, error, .. }) => {
            println!("5. Reusing the old refresh token is refused: HTTP {status} {error}")
        }
        other => return Err(Failure::Usage(format!("expected invalid_grant for a spent refresh token, got {other:?}"))),
    }
    let counters = server.counters();
    println!("6. The server saw {} get and {} refresh requests", counters.get, counters.refresh);

    // A TokenManager: 16 threads ask for the same org at once; one grant serves them all.
    server.reset();
    let manager = TokenManager::new(Arc::new(client), client_id.into(), None, None)?;
    let tokens = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..16).map(|_| scope.spawn(|| manager.access_token(org_id.into()))).collect();
        callers.into_iter().map(|caller| caller.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect::<Result<Vec<_>, _>>()
    })?;
    let distinct = tokens.iter().filter(|token| **token != tokens[0]).count() + 1;
    println!(
        "7. TokenManager: 16 threads asked for {org_id}'s token at once: {} request, {distinct} distinct token, {}",
        server.counters().total,
        redacted(&tokens[0])
    );
    server.shutdown();
    workers_demo()
}

/// Worker processes (this binary, `worker`) sharing one token file against a mock that
/// revokes a token family when a spent refresh token comes back.
fn workers_demo() -> Result<(), Failure> {
    use cobo_oauth_mock::{App, MockConfig, MockServer};
    const WORKERS: usize = 4;
    const SECONDS: u64 = 8;
    const ACCESS_TTL: u64 = 3;
    const MARGIN: u64 = 1;
    let server = MockServer::start(MockConfig { access_ttl_secs: ACCESS_TTL, strict_rotation: true, ..MockConfig::default() })
        .map_err(|e| Failure::Usage(format!("cannot start the mock server: {e}")))?;
    let key = AppKey::generate()?;
    let (client_id, org_id) = ("demo-portal-app", "demo-org");
    server.register_app(App { client_id: client_id.into(), api_key: key.api_key(), orgs: vec![org_id.into()] });
    let dir = std::env::temp_dir().join(format!("cobo-oauth-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Failure::Usage(format!("cannot create {}: {e}", dir.display())))?;
    let store = dir.join("tokens.json");
    let exe = std::env::current_exe().map_err(|e| Failure::Usage(format!("cannot find this program: {e}")))?;
    let spawn = |_| {
        std::process::Command::new(&exe)
            .args(["worker", "--client-id", client_id, "--org-id", org_id, "--threads", "4"])
            .args(["--seconds", &SECONDS.to_string(), "--margin-secs", &MARGIN.to_string()])
            .args(["--store", &format!("file:{}", store.display())])
            .args(["--base-url", &server.base_url(), "--response-key", &server.response_public_key()])
            .env("COBO_APP_PRIVATE_KEY", key.private_key_hex().expose())
            .stdout(std::process::Stdio::piped())
            .spawn()
    };
    let workers = (0..WORKERS).map(spawn).collect::<Result<Vec<_>, _>>();
    let workers = workers.map_err(|e| Failure::Usage(format!("cannot start a worker: {e}")))?;
    let mut totals = [0u64; 3];
    for worker in workers {
        let output = worker.wait_with_output().map_err(|e| Failure::Usage(format!("a worker failed: {e}")))?;
        let counts: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        for (total, name) in totals.iter_mut().zip(["calls", "refused", "errors"]) {
            *total += counts[name].as_u64().unwrap_or(0);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let counters = server.counters();
    println!(
        "8. {WORKERS} worker processes x 4 threads shared one token file for {SECONDS} s (tokens live {ACCESS_TTL} s,"
    );
    println!(
        "   renewed {MARGIN} s early): {} protected calls succeeded, {} were refused, {} failed; the mock",
        totals[0],
        totals[1],
        totals[2],
    );
    println!(
        "   refused {} protected calls ({} for a reused nonce), each resent; {} token requests for {} expiry windows,",
        counters.protected_refused,
        counters.nonce_reuses,
        counters.issued,
        SECONDS.div_ceil(ACCESS_TTL - MARGIN) + 1
    );
    println!(
        "   {} spent refresh tokens presented, {} token families revoked",
        counters.spent_refusals, counters.reuse_detections
    );
    server.shutdown();
    Ok(())
}

fn print_token(token: &OrgToken) {
    println!(
        "   access_token {}  refresh_token {}  {} {}s",
        redacted(&token.access_token),
        redacted(&token.refresh_token),
        token.token_type,
        token.expires_in
    );
}
