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
        if (!logger.isLoggable(level)) return
        // Logging must never fail a renewal: a failing handler's exception is dropped.
        try {
            val line = java.util.logging.LogRecord(level, record.message)
            line.loggerName = logger.name
            // No caller to infer: the record comes from native code, not from this class.
            line.sourceClassName = null
            logger.log(line)
        } catch (e: Exception) {
        }
    }
}
