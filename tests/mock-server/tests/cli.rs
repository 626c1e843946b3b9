//! The `cobo-oauth-mock` binary as harnesses use it.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_cobo-oauth-mock");

fn http(addr: SocketAddr, raw: &[u8]) -> Resp {
    Conn::open(addr).send_raw(raw).unwrap()
}

#[test]
fn prints_one_json_line_serves_and_exits_when_stdin_closes() {
    let key = AppKey::from_seed(4);
    let seed = "11".repeat(32);
    let mut child = Command::new(BIN)
        .args([
            "--app",
            &format!("{CLIENT_ID}:{}:{ORG_ID},org-2", key.api_key()),
            "--access-ttl",
            "60",
            "--response-seed",
            &seed,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    let base_url = ready["base_url"].as_str().unwrap();
    let port: u16 = base_url
        .strip_prefix("http://127.0.0.1:")
        .unwrap()
        .strip_suffix("/v2")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        ready["control_url"],
        format!("http://127.0.0.1:{port}/_mock")
    );
    // The response key is the Ed25519 public key of the given seed.
    let public_key = ready["response_public_key"].as_str().unwrap().to_owned();
    assert_eq!(public_key, AppKey::from_seed(0x11).api_key());
    assert_eq!(ready.as_object().unwrap().len(), 3);

    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let query = get_query(CLIENT_ID, "org-2");
    let req = Signed {
        method: "GET",
        path: "/v2/oauth/token",
        query: &query,
        body: "",
        nonce: nonce(),
    };
    let resp = http(addr, &signed_request(&key, &req, ""));
    assert_eq!(
        (resp.status, resp.json()["expires_in"].clone()),
        (200, json!(60))
    );
    assert!(resp.signature_verifies(&public_key));
    let token = resp.json()["access_token"].as_str().unwrap().to_owned();

    drop(child.stdin.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the mock did not exit after stdin closed"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "exactly one line on stdout");
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("GET /v2/oauth/token -> 200 get: issued"),
        "{log}"
    );
    assert!(!log.contains(&token), "the log never shows tokens");
}

#[test]
fn fixed_seed_gives_a_fixed_key_and_fixture_loads_apps() {
    let dir = std::env::temp_dir().join(format!("cobo-oauth-mock-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = dir.join("fixture.json");
    let key = AppKey::from_seed(5);
    let body = json!({"apps": [{"client_id": CLIENT_ID, "api_key": key.api_key(), "orgs": [ORG_ID]}], "access_ttl_secs": 9});
    std::fs::write(&fixture, body.to_string()).unwrap();

    let run = || {
        let mut child = Command::new(BIN)
            .args([
                "--fixture",
                fixture.to_str().unwrap(),
                "--response-seed",
                &"22".repeat(32),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap();
        (child, ready)
    };
    let (mut first, ready) = run();
    let (mut second, ready2) = run();
    assert_eq!(ready["response_public_key"], ready2["response_public_key"]);
    let port: u16 = ready["base_url"].as_str().unwrap()[17..]
        .trim_end_matches("/v2")
        .parse()
        .unwrap();
    let query = get_query(CLIENT_ID, ORG_ID);
    let req = Signed {
        method: "GET",
        path: "/v2/oauth/token",
        query: &query,
        body: "",
        nonce: nonce(),
    };
    let resp = http(
        format!("127.0.0.1:{port}").parse().unwrap(),
        &signed_request(&key, &req, ""),
    );
    assert_eq!(resp.json()["expires_in"], 9);
    for child in [&mut first, &mut second] {
        drop(child.stdin.take());
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_flags_exit_2_and_help_exits_0() {
    for args in [
        &["--port", "nope"][..],
        &["--app", "only-client"],
        &["--frobnicate"],
        &["--fixture", "/nonexistent.json"],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(!out.stderr.is_empty());
    }
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("Usage: cobo-oauth-mock"));
}
