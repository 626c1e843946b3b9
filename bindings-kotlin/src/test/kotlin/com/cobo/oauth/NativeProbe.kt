package com.cobo.oauth

import kotlinx.coroutines.runBlocking
import kotlin.system.exitProcess

/**
 * A first use of the library in a fresh JVM (a key, and a signature through DirectSigning),
 * for tests that start one: prints
 * `ok <api key>`, or `failed: <exception chain>` and exits 3. A JVM crash instead
 * shows as another exit code and no such line.
 */
object NativeProbe {
    @JvmStatic
    fun main(args: Array<String>) {
        try {
            AppKey.generate().use { key ->
                // Signing's own entry point (DirectSigning) is found in the same library.
                check(DirectSigning.available) { "cobo_oauth_direct_sign_v1 was not found" }
                check(key.signRequest("GET", "/v2/x", "", "").apiKey == key.apiKey())
                println("ok ${key.apiKey()}")
            }
        } catch (t: Throwable) {
            val chain = generateSequence(t) { it.cause }.joinToString(" <- ") { "${it.javaClass.name}: ${it.message}" }
            println("failed: $chain")
            exitProcess(3)
        }
    }
}

/**
 * A first async call in a fresh JVM: AsyncOAuthClient.getOrgToken against a closed local
 * port must fail with Transport, as a suspend function (runBlocking). Prints
 * `ok Transport`, or `failed: ...` and exits 3.
 */
object AsyncNativeProbe {
    @JvmStatic
    fun main(args: Array<String>) {
        try {
            val key = AppKey.generate()
            val config = ClientConfig(baseUrl = "http://127.0.0.1:1", responsePublicKey = key.apiKey(), maxRetries = 0U)
            val client = AsyncOAuthClient(OAuthClient(key, config))
            val outcome = runCatching { runBlocking { client.getOrgToken("client", "org") } }
            val e = outcome.exceptionOrNull()
            check(e is CoboOAuthException.Transport) { "expected Transport, got $outcome" }
            println("ok Transport")
        } catch (t: Throwable) {
            val chain = generateSequence(t) { it.cause }.joinToString(" <- ") { "${it.javaClass.name}: ${it.message}" }
            println("failed: $chain")
            exitProcess(3)
        }
    }
}
