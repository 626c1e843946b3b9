//! `cobo-oauth-mock`: the mock server as a process, for test harnesses in any language.

fn main() {
    std::process::exit(cobo_oauth_mock::run_cli(std::env::args().skip(1).collect()));
}
