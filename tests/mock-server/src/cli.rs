//! The command line: `cobo-oauth-mock [flags]`, also reached as `cobo-oauth mock [flags]`.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::crypto::{hex_array, normalize_api_key};
use crate::stop_signal;
use crate::{App, MockConfig, MockServer, TlsMode};

const USAGE: &str = "\
Usage: cobo-oauth-mock [FLAGS]
       cobo-oauth-mock proxy [PROXY FLAGS]

A local mock of Cobo WaaS 2.0's OAuth endpoints. Prints one JSON line
{\"base_url\", \"control_url\", \"response_public_key\"} on stdout (with --tls also
\"ca_file\" and \"ca_pem\", the CA to trust), logs requests to stderr, and exits when
stdin closes (unless --ignore-stdin). With --tls, /v2 is HTTPS and the control API
stays plain HTTP on the same port.

Flags:
  --host IP                     address to bind (default 127.0.0.1)
  --port PORT                   port to bind (default 0: a free port)
  --app CLIENT_ID:API_KEY[:ORG1,ORG2...]
                                register an app (repeatable); API_KEY is 64 hex
  --fixture FILE.json           {\"apps\": [{\"client_id\", \"api_key\", \"orgs\"}],
                                 \"access_ttl_secs\"?, \"refresh_ttl_secs\"?}
  --access-ttl SECS             expires_in of access tokens (default 43199)
  --refresh-ttl SECS            lifetime of refresh tokens (default 2592000)
  --strict-rotation             refresh-token reuse detection (as Auth0, Okta, Hydra):
                                a spent refresh token presented again also revokes
                                every access and refresh token of its family (the
                                tokens descended from one Get Org Access Token);
                                also POST /_mock/config {\"strict_rotation\": true}
  --nonce-window-ms MS          accepted nonce distance from server time (default 60000)
  --response-seed HEX64         fixed seed of the response-signing key
  --tls                         serve HTTPS: a certificate for localhost and 127.0.0.1
                                signed by a throwaway CA made at start-up
  --tls-wrong-host              HTTPS with a certificate for another host name
  --tls-expired                 HTTPS with a certificate that expired in 2001
  --tls-cert FILE --tls-key FILE [--tls-ca FILE]
                                HTTPS with this PEM chain and key (clients trust
                                --tls-ca, or the chain's file)
  --ignore-stdin                keep running after stdin closes (stop with SIGTERM or
                                SIGINT; either also stops it without the flag)
  --help                        print this help

Proxy: an HTTP CONNECT proxy for tests, tunnelling to loopback only. Prints one JSON
line {\"proxy_url\", \"control_url\"}; GET <control_url>/seen returns
{\"connect\": [targets], \"refused\": n, \"plaintext\": [\"METHOD host\"]}, POST
<control_url>/reset clears it.
  --host IP, --port PORT, --ignore-stdin   as above
  --refuse STATUS               answer every CONNECT with STATUS (e.g. 403, 407)
  --credentials USER:PASS       407 unless the CONNECT carries these Basic credentials
";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[serde(default)]
    apps: Vec<App>,
    access_ttl_secs: Option<u64>,
    refresh_ttl_secs: Option<u64>,
}

#[derive(Serialize)]
struct Ready {
    base_url: String,
    control_url: String,
    response_public_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_pem: Option<String>,
}

enum Command {
    Help,
    Run {
        config: MockConfig,
        ignore_stdin: bool,
    },
}

/// Runs the mock server from command-line flags (without the program name) and
/// returns the process exit code: 0 after stdin closes, 2 for bad flags, 1 if the
/// server cannot start. Blocks while the server runs.
pub fn run_cli(args: Vec<String>) -> i32 {
    if args.first().map(String::as_str) == Some("proxy") {
        return crate::proxy_cli::run(args.into_iter().skip(1).collect());
    }
    let (config, ignore_stdin) = match parse_args(args) {
        Ok(Command::Help) => {
            print!("{USAGE}");
            return 0;
        }
        Ok(Command::Run {
            config,
            ignore_stdin,
        }) => (config, ignore_stdin),
        Err(message) => {
            eprintln!("cobo-oauth-mock: {message}\nTry --help.");
            return 2;
        }
    };
    // Before the server's threads start, so that they inherit the blocked signals.
    let stop = stop_signal::stop_channel();
    let server = match MockServer::start(config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("cobo-oauth-mock: cannot start: {e}");
            return 1;
        }
    };
    server.set_request_log(true);
    let ready = Ready {
        base_url: server.base_url(),
        control_url: server.control_url(),
        response_public_key: server.response_public_key(),
        ca_file: server.ca_file().map(|f| f.display().to_string()),
        ca_pem: server.ca_pem(),
    };
    if print_ready(&ready).is_err() {
        return 1;
    }
    eprintln!("cobo-oauth-mock: listening on {}", server.base_url());
    wait_for_stop(ignore_stdin, stop);
    server.shutdown(); // removes the CA file
    0
}

/// The start line harnesses wait for: one JSON object on stdout.
pub(crate) fn print_ready(ready: &impl Serialize) -> io::Result<()> {
    let line = serde_json::to_string(ready).map_err(io::Error::other)?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

/// Blocks until stdin closes (a harness that dies closes it, so the server never outlives
/// it), or until SIGTERM or SIGINT. With `ignore_stdin`, only a signal stops it.
pub(crate) fn wait_for_stop(ignore_stdin: bool, (sender, stopped): stop_signal::StopChannel) {
    if !ignore_stdin {
        std::thread::spawn(move || {
            let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
            let _ = sender.send(());
        });
    }
    let _ = stopped.recv();
}

fn parse_args(args: Vec<String>) -> Result<Command, String> {
    let mut config = MockConfig::default();
    let mut ignore_stdin = false;
    // Explicit TTL flags win over a fixture's, whatever their order.
    let (mut access_ttl, mut refresh_ttl) = (None, None);
    let mut tls = None;
    let (mut tls_cert, mut tls_key, mut tls_ca) = (None, None, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--ignore-stdin" => ignore_stdin = true,
            "--strict-rotation" => config.strict_rotation = true,
            "--host" => {
                let v = value()?;
                config.host = if v == "localhost" {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                } else {
                    v.parse()
                        .map_err(|_| format!("--host: not an IP address: {v}"))?
                };
            }
            "--port" => config.port = number(&flag, &value()?)?,
            "--access-ttl" => access_ttl = Some(number(&flag, &value()?)?),
            "--refresh-ttl" => refresh_ttl = Some(number(&flag, &value()?)?),
            "--nonce-window-ms" => config.nonce_window_ms = number(&flag, &value()?)?,
            "--response-seed" => {
                let v = value()?;
                config.response_seed =
                    Some(hex_array(&v).ok_or("--response-seed needs 64 hex chars")?);
            }
            "--app" => config.apps.push(parse_app(&value()?)?),
            "--tls" => {
                tls.get_or_insert(TlsMode::Valid);
            }
            "--tls-wrong-host" => tls = Some(TlsMode::WrongHost),
            "--tls-expired" => tls = Some(TlsMode::Expired),
            "--tls-cert" => tls_cert = Some(PathBuf::from(value()?)),
            "--tls-key" => tls_key = Some(PathBuf::from(value()?)),
            "--tls-ca" => tls_ca = Some(PathBuf::from(value()?)),
            "--fixture" => {
                let path = value()?;
                let text =
                    std::fs::read_to_string(&path).map_err(|e| format!("--fixture {path}: {e}"))?;
                let fixture: Fixture =
                    serde_json::from_str(&text).map_err(|e| format!("--fixture {path}: {e}"))?;
                for app in fixture.apps {
                    check_key(&app)?;
                    config.apps.push(app);
                }
                config.access_ttl_secs = fixture.access_ttl_secs.unwrap_or(config.access_ttl_secs);
                config.refresh_ttl_secs =
                    fixture.refresh_ttl_secs.unwrap_or(config.refresh_ttl_secs);
            }
            _ => return Err(format!("unknown argument: {arg}")),
        }
    }
    config.access_ttl_secs = access_ttl.unwrap_or(config.access_ttl_secs);
    config.refresh_ttl_secs = refresh_ttl.unwrap_or(config.refresh_ttl_secs);
    config.tls = match (tls_cert, tls_key, tls_ca) {
        (None, None, None) => tls,
        (Some(cert), Some(key), ca) => Some(TlsMode::Files { cert, key, ca }),
        _ => return Err("--tls-cert and --tls-key go together (--tls-ca needs both)".into()),
    };
    Ok(Command::Run {
        config,
        ignore_stdin,
    })
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag}: not a valid number: {v}"))
}

/// `CLIENT_ID:API_KEY_HEX[:ORG1,ORG2…]`
fn parse_app(spec: &str) -> Result<App, String> {
    let mut parts = spec.splitn(3, ':');
    let (Some(client_id), Some(api_key)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "--app wants CLIENT_ID:API_KEY[:ORG1,ORG2...], got {spec}"
        ));
    };
    let orgs = parts
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    let app = App {
        client_id: client_id.to_owned(),
        api_key: api_key.to_owned(),
        orgs,
    };
    check_key(&app)?;
    Ok(app)
}

fn check_key(app: &App) -> Result<(), String> {
    if app.client_id.is_empty() {
        return Err("an app needs a client_id".into());
    }
    normalize_api_key(&app.api_key).map(|_| ()).ok_or_else(|| {
        format!(
            "app {}: api_key must be a 64-hex-char Ed25519 public key",
            app.client_id
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_flags() {
        let app = format!("cid:{KEY}:org1,org2");
        let Ok(Command::Run {
            config,
            ignore_stdin,
        }) = parse_args(args(&[
            "--port=8080",
            "--app",
            &app,
            "--access-ttl",
            "5",
            "--ignore-stdin",
        ]))
        else {
            panic!("expected Run");
        };
        assert!(ignore_stdin);
        assert!(!config.strict_rotation, "off unless asked for");
        assert_eq!(config.port, 8080);
        assert_eq!(config.access_ttl_secs, 5);
        assert_eq!(config.apps[0].orgs, ["org1", "org2"]);
    }

    #[test]
    fn strict_rotation_flag() {
        let Ok(Command::Run { config, .. }) = parse_args(args(&["--strict-rotation"])) else {
            panic!("expected Run");
        };
        assert!(config.strict_rotation);
    }

    #[test]
    fn refuses_bad_flags() {
        for bad in [
            &["--port", "x"][..],
            &["--app", "cid:nothex"],
            &["--bogus"],
            &["--port"],
            &["--response-seed", "00"],
        ] {
            assert!(parse_args(args(bad)).is_err(), "{bad:?}");
        }
    }
}
