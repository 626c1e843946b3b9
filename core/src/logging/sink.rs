//! `set_log_sink`: the `log` facade's records, forwarded to a sink written in Kotlin or
//! Swift. Rust programs install their own logger instead; then the sink gets nothing.

use std::sync::{Arc, RwLock};

use once_cell::sync::Lazy;

/// The UDL's log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub level: LogLevel,
    pub target: String,
    pub message: String,
}

/// Receives log records; implemented in the host language.
pub trait LogSink: Send + Sync {
    fn log(&self, record: LogRecord);

    /// UniFFI's hook for sinks implemented in other languages.
    #[doc(hidden)]
    fn uniffi_foreign_handle(&self) -> Option<uniffi::Handle> {
        None
    }
}

static SINK: Lazy<RwLock<Option<Arc<dyn LogSink>>>> = Lazy::new(|| RwLock::new(None));

struct Forward;

impl log::Log for Forward {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("cobo_oauth")
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let sink = SINK.read().ok().and_then(|sink| sink.clone());
        if let Some(sink) = sink {
            let level = match record.level() {
                log::Level::Error => LogLevel::Error,
                log::Level::Warn => LogLevel::Warn,
                log::Level::Info => LogLevel::Info,
                log::Level::Debug => LogLevel::Debug,
                log::Level::Trace => LogLevel::Trace,
            };
            // A sink that panics must not take the renewal down with it.
            let line = LogRecord { level, target: record.target().to_owned(), message: record.args().to_string() };
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.log(line)));
        }
    }

    fn flush(&self) {}
}

/// Installs `sink` (or removes it with `None`). The first call makes this the process's
/// logger, unless the program installed one of its own.
pub fn set_log_sink(sink: Option<Arc<dyn LogSink>>) {
    static FORWARD: Forward = Forward;
    static INSTALLED: Lazy<bool> = Lazy::new(|| log::set_logger(&FORWARD).is_ok());
    if *INSTALLED {
        log::set_max_level(if sink.is_some() { log::LevelFilter::Debug } else { log::LevelFilter::Off });
    }
    if let Ok(mut current) = SINK.write() {
        *current = sink;
    }
}
