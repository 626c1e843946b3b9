//! What the library logs (through the `log` facade) and the sink that hands records to
//! a foreign language's logging.

pub(crate) mod events;
pub(crate) mod sink;
