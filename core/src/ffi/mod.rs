//! Plain C entry points beside UniFFI's, for bindings whose per-call FFI cost dwarfs the
//! work. Each is behind a cargo feature that only the binding using it enables.

#[cfg(feature = "kotlin-direct-signing")]
mod direct_signing;
