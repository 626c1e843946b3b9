package com.cobo.oauth

import org.slf4j.Logger
import org.slf4j.LoggerFactory

/**
 * Forwards the core's records to SLF4J. Loaded only when SLF4J is on the class path
 * (see [CoboOAuthLogging.install]): this class is the only one that names it.
 */
internal class Slf4jLogSink : LogSink {
    private val logger: Logger = LoggerFactory.getLogger(CoboOAuthLogging.LOGGER_NAME)

    override fun log(record: LogRecord) {
        // Logging must never fail a renewal: a failing appender's exception is dropped.
        try {
            val message = record.message
            when (record.level) {
                LogLevel.ERROR -> logger.error(message)
                LogLevel.WARN -> logger.warn(message)
                LogLevel.INFO -> logger.info(message)
                LogLevel.DEBUG -> logger.debug(message)
                LogLevel.TRACE -> logger.trace(message)
            }
        } catch (e: Exception) {
        }
    }
}
