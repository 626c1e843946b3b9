//! `cobo-oauth-mock proxy [flags]`: the test CONNECT proxy as a process.

use std::net::IpAddr;

use serde::Serialize;

use crate::cli::{print_ready, wait_for_stop};
use crate::stop_signal;
use crate::{ConnectProxy, ProxyConfig};

#[derive(Serialize)]
struct Ready {
    proxy_url: String,
    control_url: String,
}

/// Runs the proxy from its flags; the exit codes are those of `run_cli`.
pub(crate) fn run(args: Vec<String>) -> i32 {
    let (config, ignore_stdin) = match parse(args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("cobo-oauth-mock proxy: {message}\nTry --help.");
            return 2;
        }
    };
    let stop = stop_signal::stop_channel();
    let proxy = match ConnectProxy::start(config) {
        Ok(proxy) => proxy,
        Err(e) => {
            eprintln!("cobo-oauth-mock proxy: cannot start: {e}");
            return 1;
        }
    };
    proxy.set_request_log(true);
    let ready = Ready { proxy_url: proxy.proxy_url(), control_url: proxy.control_url() };
    if print_ready(&ready).is_err() {
        return 1;
    }
    eprintln!("cobo-oauth-mock proxy: listening on {}", proxy.proxy_url());
    wait_for_stop(ignore_stdin, stop);
    0
}

fn parse(args: Vec<String>) -> Result<(ProxyConfig, bool), String> {
    let mut config = ProxyConfig::default();
    let mut ignore_stdin = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--ignore-stdin" => ignore_stdin = true,
            "--host" => {
                let v = value()?;
                config.host = v.parse::<IpAddr>().map_err(|_| format!("--host: not an IP address: {v}"))?;
            }
            "--port" => {
                let v = value()?;
                config.port = v.parse().map_err(|_| format!("--port: not a valid number: {v}"))?;
            }
            "--refuse" => {
                let v = value()?;
                let status: u16 = v.parse().map_err(|_| format!("--refuse: not a status: {v}"))?;
                if !(400..600).contains(&status) {
                    return Err(format!("--refuse: {status} is not an error status"));
                }
                config.refuse = Some(status);
            }
            "--credentials" => {
                let v = value()?;
                if !v.contains(':') {
                    return Err("--credentials wants USER:PASS".into());
                }
                config.credentials = Some(v);
            }
            _ => return Err(format!("unknown argument: {arg}")),
        }
    }
    Ok((config, ignore_stdin))
}
