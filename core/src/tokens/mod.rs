//! Org Access Tokens kept valid: the TokenManager (blocking and async) and the stores
//! it keeps tokens in.

pub(crate) mod async_manager;
pub(crate) mod manager;
pub(crate) mod store;
