//! The core's log records go to Python's `logging.getLogger("cobo_oauth…")` through
//! pyo3-log. Its logger is made on the first record, not at import: importing `logging`
//! would add a third to `import cobo_oauth`, and records are rare (renewals, retries,
//! failures). Nothing is cached, so levels set later apply.

use log::{LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// pyo3-log's default filter: the records a logger made at import would pass on.
const LEVEL: LevelFilter = LevelFilter::Debug;

struct OnFirstRecord {
    logger: PyOnceLock<pyo3_log::Logger>,
}

impl Log for OnFirstRecord {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= LEVEL
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        Python::attach(|py| {
            // PyOnceLock, not OnceLock: a thread that waits for the GIL inside the
            // initializer cannot deadlock with one that holds it and logs.
            match self.logger.get_or_try_init(py, || pyo3_log::Logger::new(py, pyo3_log::Caching::Nothing)) {
                Ok(logger) => logger.log(record),
                Err(err) => err.write_unraisable(py, None),
            }
        });
    }

    fn flush(&self) {}
}

/// Installs the logger for the process. Fails only if this module was initialized
/// before; the first logger stays.
pub(crate) fn install() {
    if log::set_boxed_logger(Box::new(OnFirstRecord { logger: PyOnceLock::new() })).is_ok() {
        log::set_max_level(LEVEL);
    }
}
