//! Small helpers, each named for what it does.

pub(crate) mod fork_local;
pub(crate) mod hex;
pub(crate) mod lock;
pub(crate) mod private_file;
pub(crate) mod random;
