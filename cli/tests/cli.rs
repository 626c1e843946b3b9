//! The `cobo-oauth` binary as a user runs it.

use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cobo-oauth"));
    command.args(args).stdin(Stdio::null());
    for name in [
        "COBO_APP_PRIVATE_KEY", "COBO_PRIVATE_KEY", "COBO_REFRESH_TOKEN", "COBO_ENV", "COBO_BASE_URL",
        "COBO_RESPONSE_PUBLIC_KEY", "COBO_CLIENT_ID", "COBO_ORG_ID",
    ] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn demo_walks_through_get_refresh_and_rotation_without_printing_tokens() {
    let out = cli(&["demo"], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("Reusing the old refresh token is refused: HTTP 400 invalid_grant"), "{stdout}");
    assert!(stdout.contains("1 get and 2 refresh requests"), "{stdout}");
    assert!(stdout.contains("16 threads asked for demo-org's token at once: 1 request, 1 distinct token"), "{stdout}");
    // Tokens appear only as fingerprints.
    assert_eq!(stdout.matches("<redacted sha256:").count(), 5, "{stdout}");
}

#[test]
fn sign_matches_the_first_signing_vector() {
    let path = format!("{}/../tests/vectors/signing.json", env!("CARGO_MANIFEST_DIR"));
    let vectors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let case = &vectors["cases"][0];
    let field = |name: &str| case[name].as_str().unwrap().to_owned();
    let out = cli(
        &["sign", "--method", &field("method"), "--path", &field("path"), "--query", &field("query"), "--body", &field("body"), "--nonce", &field("nonce")],
        &[("COBO_APP_PRIVATE_KEY", &field("private_key_hex"))],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = format!(
        "Biz-Api-Key: {}\nBiz-Api-Nonce: {}\nBiz-Api-Signature: {}\n",
        field("api_key"),
        field("nonce"),
        field("signature")
    );
    assert_eq!(text(&out.stdout), expected);
}

#[test]
fn keygen_output_is_a_loadable_key() {
    let out = cli(&["keygen"], &[]);
    let stdout = text(&out.stdout);
    let line = |prefix: &str| stdout.lines().find_map(|l| l.strip_prefix(prefix)).unwrap().to_owned();
    let (api_key, private_key) = (line("api_key: "), line("private_key: "));
    let signed = cli(&["sign", "--method", "GET", "--path", "/v2/oauth/token"], &[("COBO_APP_PRIVATE_KEY", &private_key)]);
    assert!(text(&signed.stdout).starts_with(&format!("Biz-Api-Key: {api_key}\n")));
}

#[test]
fn mistakes_exit_with_usage_or_a_typed_error() {
    let out = cli(&["token", "get", "--client-id", "a", "--org-id", "b"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("COBO_APP_PRIVATE_KEY"));
    let out = cli(&["sign", "--method", "GET", "--path", "/v2/x"], &[("COBO_APP_PRIVATE_KEY", "abc")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("invalid key"), "{}", text(&out.stderr));
    // The production default is never silent.
    let out = cli(&["verify-webhook", "--timestamp", "1", "--signature", "00", "--body-file", "/dev/null"], &[]);
    assert!(text(&out.stderr).contains("using Cobo's production environment"), "{}", text(&out.stderr));
    let out = cli(&["verify-webhook", "--timestamp", "1", "--signature", "00", "--body-file", "/dev/null"], &[("COBO_ENV", "dev")]);
    assert!(!text(&out.stderr).contains("production"), "{}", text(&out.stderr));
    let out = cli(&["token", "get", "--private-key", "x"], &[]);
    assert_eq!(out.status.code(), Some(2), "keys are never taken from argv");
    let out = cli(&["verify-webhook", "--timestamp", "1", "--signature", "00", "--body-file", "/dev/null", "--env", "dev"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("response signature"));
}

#[test]
fn token_get_and_refresh_against_the_cli_mock() {
    use std::io::{BufRead, BufReader};
    let keys = text(&cli(&["keygen"], &[]).stdout);
    let line = |prefix: &str| keys.lines().find_map(|l| l.strip_prefix(prefix)).unwrap().to_owned();
    let (api_key, private_key) = (line("api_key: "), line("private_key: "));
    let mut mock = Command::new(env!("CARGO_BIN_EXE_cobo-oauth"))
        .args(["mock", "--app", &format!("cli-app:{api_key}:cli-org")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(mock.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let started: Value = serde_json::from_str(&first).unwrap();
    let (url, key) = (started["base_url"].as_str().unwrap(), started["response_public_key"].as_str().unwrap());
    let target = ["--base-url", url, "--response-key", key, "--client-id", "cli-app"];

    let got = cli(&[&["token", "get", "--org-id", "cli-org"][..], &target].concat(), &[("COBO_APP_PRIVATE_KEY", &private_key)]);
    assert!(got.status.success(), "{}", text(&got.stderr));
    assert_eq!(text(&got.stderr), "");
    let token: Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(token["expires_in"], 43199);
    // The README's exports alone are enough: no flag at all.
    let exports = [
        ("COBO_APP_PRIVATE_KEY", private_key.as_str()), ("COBO_ENV", "sandbox"), ("COBO_BASE_URL", url),
        ("COBO_RESPONSE_PUBLIC_KEY", key), ("COBO_CLIENT_ID", "cli-app"), ("COBO_ORG_ID", "cli-org"),
    ];
    let from_env = cli(&["token", "get"], &exports);
    assert!(from_env.status.success(), "{}", text(&from_env.stderr));
    let refresh_token = token["refresh_token"].as_str().unwrap();
    // The key's old variable still works, with a warning on stderr.
    let env = [("COBO_PRIVATE_KEY", private_key.as_str()), ("COBO_REFRESH_TOKEN", refresh_token)];
    let refreshed = cli(&[&["token", "refresh"][..], &target].concat(), &env);
    assert!(refreshed.status.success(), "{}", text(&refreshed.stderr));
    assert!(text(&refreshed.stderr).contains("COBO_PRIVATE_KEY is deprecated; set COBO_APP_PRIVATE_KEY"));
    let again = cli(&[&["token", "refresh"][..], &target].concat(), &env);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("invalid_grant"));
    assert!(!text(&again.stderr).contains(refresh_token));

    drop(mock.stdin.take()); // closing stdin stops the mock
    assert!(mock.wait().unwrap().success());
}

/// A delivery signed by a key standing in for Cobo's, with `cobo-oauth sign`: the CoboAuth
/// content `POST|/hook|1||<ms>` is exactly `<body>|<ms>` for the body `POST|/hook|1|`,
/// which is what a delivery signs. Returns (response key, signature).
fn signed_delivery(private_key: &str, sent_ms: u64) -> (String, String) {
    let out = cli(&["sign", "--method", "POST", "--path", "/hook", "--body", &sent_ms.to_string(), "--nonce", "1"], &[("COBO_APP_PRIVATE_KEY", private_key)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = |prefix: &str| stdout.lines().find_map(|l| l.strip_prefix(prefix)).unwrap().to_owned();
    (line("Biz-Api-Key: "), line("Biz-Api-Signature: "))
}

#[test]
fn verify_webhook_refuses_stale_and_future_deliveries() {
    let private_key = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    let dir = std::env::temp_dir().join(format!("cobo-oauth-cli-webhook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body = dir.join("body");
    std::fs::write(&body, "POST|/hook|1|").unwrap();
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let verify = |sent_ms: u64, extra: &[&str]| {
        let (response_key, signature) = signed_delivery(private_key, sent_ms);
        let timestamp = sent_ms.to_string();
        let mut args = vec!["verify-webhook", "--timestamp", &timestamp, "--signature", &signature, "--body-file", body.to_str().unwrap(), "--response-key", &response_key];
        args.extend_from_slice(extra);
        cli(&args, &[])
    };

    let fresh = verify(now_ms, &[]);
    assert!(fresh.status.success(), "{}", text(&fresh.stderr));
    assert_eq!(text(&fresh.stdout), "valid: signed by Cobo, Biz-Timestamp within 300 s\n");

    // Signed correctly, but 10 minutes old: a replay, refused by the default 300 s window.
    let stale = verify(now_ms - 600_000, &[]);
    assert_eq!(stale.status.code(), Some(1), "{}", text(&stale.stdout));
    assert!(text(&stale.stderr).contains("Biz-Timestamp is older than 300 s"), "{}", text(&stale.stderr));
    // A wider window accepts it.
    let widened = verify(now_ms - 600_000, &["--max-age-secs", "900"]);
    assert!(widened.status.success(), "{}", text(&widened.stderr));
    assert!(text(&widened.stdout).contains("within 900 s"));

    let future = verify(now_ms + 600_000, &[]);
    assert_eq!(future.status.code(), Some(1));
    assert!(text(&future.stderr).contains("Biz-Timestamp is more than 300 s ahead"), "{}", text(&future.stderr));

    let bad = verify(now_ms, &["--max-age-secs", "five"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--max-age-secs"));
    std::fs::remove_dir_all(&dir).unwrap();
}
