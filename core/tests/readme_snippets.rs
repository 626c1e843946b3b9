//! core/README.md's Quickstart and Token manager blocks are core/tests/snippets/*.rs,
//! verbatim; their `main`s run here against the mock, configured as the README's
//! walkthrough configures every language: the COBO_* variables.

mod common;

mod quickstart {
    include!("snippets/quickstart.rs");
    pub fn run() -> Result<(), CoboOAuthError> {
        main()
    }
}

mod token_manager {
    include!("snippets/token_manager.rs");
    pub fn run() -> Result<(), CoboOAuthError> {
        main()
    }
}

use cobo_oauth_mock::MockConfig;

fn read(path: &str) -> String {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

#[test]
fn the_readme_shows_the_snippets_verbatim() {
    let readme = read("core/README.md");
    for file in ["core/tests/snippets/quickstart.rs", "core/tests/snippets/token_manager.rs"] {
        assert!(readme.contains(&format!("```rust,no_run\n{}```", read(file))), "core/README.md must show {file} verbatim");
    }
}

/// One test, so that nothing else in this process reads the environment while it is set.
#[test]
fn the_snippets_run_against_the_mock() {
    let (server, key) = common::mock_with_app(MockConfig::default(), "readme-app", &["readme-org"]);
    let dir = std::env::temp_dir().join(format!("cobo-oauth-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("cobo-tokens.json");
    for (name, value) in [
        ("COBO_APP_PRIVATE_KEY", key.private_key_hex().expose().to_owned()),
        ("COBO_BASE_URL", server.base_url()),
        ("COBO_RESPONSE_PUBLIC_KEY", server.response_public_key()),
        ("COBO_CLIENT_ID", "readme-app".into()),
        ("COBO_ORG_ID", "readme-org".into()),
        ("COBO_TOKEN_FILE", token_file.to_string_lossy().into_owned()),
    ] {
        std::env::set_var(name, value);
    }

    quickstart::run().unwrap();
    let counters = server.counters();
    assert_eq!((counters.get, counters.refresh, counters.rejected), (1, 1, 0));

    // The manager's first run gets a token and saves it; the second, a restart, reads it.
    token_manager::run().unwrap();
    token_manager::run().unwrap();
    let counters = server.counters();
    assert_eq!((counters.get, counters.refresh, counters.rejected), (2, 1, 0));
    assert!(token_file.exists(), "the file store wrote nothing at {}", token_file.display());

    // An org that did not install the app: the quickstart's error is the typed OAuth one.
    std::env::set_var("COBO_ORG_ID", "org-elsewhere");
    assert!(matches!(quickstart::run(), Err(cobo_oauth::CoboOAuthError::OAuth { status: 403, .. })));
    std::fs::remove_dir_all(&dir).ok();
}
