// Where the core's log records go in Swift: the unified logging system (os.Logger) on
// Apple platforms, a closure anywhere (on Linux, the way in: swift-log, a file, stderr).
// Records name orgs, operations, statuses and durations; never a token or key.

#if canImport(os)
import os
#endif

/// A `LogSink` that hands every record to a closure, on the thread that logs it (inside a
/// renewal: keep it quick, and never call back into `TokenManager` from it).
public final class ClosureLogSink: LogSink {
    private let handler: @Sendable (LogRecord) -> Void

    public init(_ handler: @escaping @Sendable (LogRecord) -> Void) {
        self.handler = handler
    }

    public func log(record: LogRecord) {
        handler(record)
    }
}

/// Installs where the core's log records go. One sink per process; each call replaces the
/// previous one.
public enum CoboOAuthLogging {
    /// The os.Logger subsystem, and the category (the core's log target).
    public static let subsystem = "com.cobo.oauth"
    public static let category = "cobo_oauth"

    /// Sends every record to `handler`.
    public static func install(_ handler: @escaping @Sendable (LogRecord) -> Void) {
        setLogSink(sink: ClosureLogSink(handler))
    }

    #if canImport(os)
    /// Sends records to os.Logger (subsystem `com.cobo.oauth`, category `cobo_oauth`) at
    /// the matching level. Messages are marked public: they hold no secret, and Console
    /// would otherwise show `<private>`.
    @available(macOS 11.0, iOS 14.0, tvOS 14.0, watchOS 7.0, *)
    public static func install() {
        let logger = Logger(subsystem: subsystem, category: category)
        install { record in
            let message = record.message
            switch record.level {
            case .error: logger.error("\(message, privacy: .public)")
            case .warn: logger.warning("\(message, privacy: .public)")
            case .info: logger.info("\(message, privacy: .public)")
            case .debug: logger.debug("\(message, privacy: .public)")
            case .trace: logger.trace("\(message, privacy: .public)")
            }
        }
    }
    #endif

    /// Stops forwarding: the core drops its records again.
    public static func uninstall() {
        setLogSink(sink: nil)
    }
}

