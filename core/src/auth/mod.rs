//! CoboAuth: the app's key, what it signs and the nonces it signs with; Cobo's
//! environments and the signatures of its responses and webhooks. No I/O but the nonce
//! clock's shared file.

pub(crate) mod delivery;
pub(crate) mod environment;
pub(crate) mod keys;
pub(crate) mod nonce_clock;
pub(crate) mod signing;
pub(crate) mod verify;
