package com.cobo.oauth

import java.net.ServerSocket

/**
 * For LoggingBackendTest, in a fresh JVM: installs the default logging, prints which sink
 * it chose, then makes one renewal fail (connection refused) so that a WARN record is logged.
 */
object LoggingProbe {
    @JvmStatic
    fun main(args: Array<String>) {
        val sink = CoboOAuthLogging.install()
        println("sink ${sink.javaClass.simpleName}")
        val closedPort = ServerSocket(0).use { it.localPort }
        AppKey.generate().use { key ->
            val config = ClientConfig(baseUrl = "http://127.0.0.1:$closedPort/v2", responsePublicKey = key.apiKey(), maxRetries = 0U)
            OAuthClient(key, config).use { client ->
                TokenManager(client, "probe-app").use { manager ->
                    val failure = runCatching { manager.accessToken("probe-org") }.exceptionOrNull()
                    println("renewal threw ${failure?.javaClass?.simpleName}")
                }
            }
        }
    }
}
