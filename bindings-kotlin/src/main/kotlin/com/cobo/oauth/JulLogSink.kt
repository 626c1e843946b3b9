package com.cobo.oauth

import java.util.logging.Level
import java.util.logging.Logger

/** Forwards the core's records to java.util.logging: the fallback when SLF4J is absent. */
internal class JulLogSink : LogSink {
    private val logger: Logger = Logger.getLogger(CoboOAuthLogging.LOGGER_NAME)

    override fun log(record: LogRecord) {
        val level = when (record.level) {
            LogLevel.ERROR -> Level.SEVERE
            LogLevel.WARN -> Level.WARNING
            LogLevel.INFO -> Level.INFO
            LogLevel.DEBUG -> Level.FINE
            LogLevel.TRACE -> Level.FINEST
        }
        // Logging must never fail a renewal: a failing handler's exception is dropped.
        try {
            // No caller to infer (null source class and method): the record comes from native code, not from this class.
            logger.logp(level, null, null, record.message)
        } catch (e: Exception) {
        }
    }
}
