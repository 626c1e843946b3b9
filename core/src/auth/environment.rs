//! Cobo's environments: where each is, and the key it signs responses with.

/// Cobo's environments, each with its base URL and response-signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    Dev,
    Sandbox,
    Prod,
}

impl Environment {
    pub fn base_url(self) -> &'static str {
        match self {
            Environment::Dev => "https://api.dev.cobo.com/v2",
            Environment::Sandbox => "https://api.sandbox.cobo.com/v2",
            Environment::Prod => "https://api.cobo.com/v2",
        }
    }

    pub fn response_public_key(self) -> &'static str {
        match self {
            Environment::Dev => "a04ea1d5fa8da71f1dcfccf972b9c4eba0a2d8aba1f6da26f49977b08a0d2718",
            Environment::Sandbox => "893d8a6112ae22429a7453599256391d7928e16870ecab888ee3ce65febada08",
            Environment::Prod => "8d4a482641adb2a34b726f05827dba9a9653e5857469b8749052bf4458a86729",
        }
    }
}
