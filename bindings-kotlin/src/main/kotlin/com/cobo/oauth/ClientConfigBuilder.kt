package com.cobo.oauth

/**
 * [ClientConfig] for Java, where its generated constructor takes all 12 fields, several of
 * them unsigned. Every setter is optional; [build] applies the UDL's defaults to the rest.
 * From Kotlin, `ClientConfig(environment = Environment.SANDBOX, ...)` does the same.
 *
 * ```java
 * ClientConfig config = new ClientConfigBuilder().environment(Environment.SANDBOX).totalTimeoutMs(20_000).build();
 * ```
 */
class ClientConfigBuilder {
    private var config = ClientConfig()

    fun environment(value: Environment) = apply { config = config.copy(environment = value) }

    /** A proxy or the mock server; needs [responsePublicKey]. */
    fun baseUrl(value: String?) = apply { config = config.copy(baseUrl = value) }

    fun responsePublicKey(value: String?) = apply { config = config.copy(responsePublicKey = value) }

    fun connectTimeoutMs(value: Long) = apply { config = config.copy(connectTimeoutMs = nonNegative("connectTimeoutMs", value)) }

    /** One attempt, from connecting to the last byte of the body. */
    fun timeoutMs(value: Long) = apply { config = config.copy(timeoutMs = nonNegative("timeoutMs", value)) }

    fun userAgent(value: String?) = apply { config = config.copy(userAgent = value) }

    fun maxRetries(value: Int) = apply { config = config.copy(maxRetries = nonNegative("maxRetries", value.toLong()).toUInt()) }

    fun retryBaseDelayMs(value: Long) = apply { config = config.copy(retryBaseDelayMs = nonNegative("retryBaseDelayMs", value)) }

    fun retryMaxDelayMs(value: Long) = apply { config = config.copy(retryMaxDelayMs = nonNegative("retryMaxDelayMs", value)) }

    /** A whole call, retries included; keep it under a web worker's timeout (gunicorn's 30 s). */
    fun totalTimeoutMs(value: Long) = apply { config = config.copy(totalTimeoutMs = nonNegative("totalTimeoutMs", value)) }

    fun extraCaPem(value: String?) = apply { config = config.copy(extraCaPem = value) }

    fun proxyUrl(value: Secret?) = apply { config = config.copy(proxyUrl = value) }

    fun build(): ClientConfig = config
}
