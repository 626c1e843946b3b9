package com.cobo.oauth

/**
 * Routes the core's log records (renewals, retries, fallbacks, store failures, backoffs;
 * never a token or key) into the JVM's logging, under the logger name [LOGGER_NAME].
 *
 * ```kotlin
 * CoboOAuthLogging.install() // once, at application start
 * ```
 *
 * SLF4J when its API is on the class path (this library depends on it only as
 * `provided`/optional: an app that has SLF4J gets its binding, Logback or Log4j, with no
 * extra setup), java.util.logging otherwise. For anything else, pass your own [LogSink]
 * to [setLogSink].
 */
object CoboOAuthLogging {
    /** The logger records go to, in SLF4J and java.util.logging alike (the core's log target). */
    const val LOGGER_NAME: String = "cobo_oauth"

    /**
     * Installs the default sink, replacing any sink installed before, and returns it.
     * Records arrive on the thread that logs them, at the levels the core uses (a renewal
     * that succeeded: INFO; one that failed: WARN; a store failure: ERROR; details: DEBUG).
     */
    @JvmStatic
    fun install(): LogSink {
        val sink: LogSink = if (slf4jAvailable()) Slf4jLogSink() else JulLogSink()
        setLogSink(sink)
        return sink
    }

    /** Stops forwarding: the core drops its records again. */
    @JvmStatic
    fun uninstall() = setLogSink(null)

    /** Probes without initializing SLF4J, so an app without it (or with a broken one) never loads [Slf4jLogSink]. */
    private fun slf4jAvailable(): Boolean =
        runCatching { Class.forName("org.slf4j.LoggerFactory", false, CoboOAuthLogging::class.java.classLoader) }.isSuccess
}
