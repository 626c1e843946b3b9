package com.cobo.oauth

import com.sun.jna.NativeLibrary
import com.sun.jna.Platform
import kotlinx.coroutines.runBlocking
import java.io.File
import kotlin.system.exitProcess

/**
 * A first use of the library in a fresh JVM (a key, and a signature through DirectSigning),
 * for tests that start one: prints
 * `ok <api key>`, or `failed: <exception chain>` and exits 3. A JVM crash instead
 * shows as another exit code and no such line.
 *
 * With `name=value` arguments (scripts/test-arm64-jvm.sh, on another platform's JVM) it
 * then also proves the platform: which library JNA loaded, a signing vector
 * (`seed method path query body nonce signature`) and a token pair from a mock server
 * (`base_url response_key client_id org_id`: a get, then a refresh), printing
 * `platform …`, `vector ok`, `token …` lines for the script to check.
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
            if (args.isNotEmpty()) platform(args.associate { it.substringBefore('=') to it.substringAfter('=', "") })
        } catch (t: Throwable) {
            val chain = generateSequence(t) { it.cause }.joinToString(" <- ") { "${it.javaClass.name}: ${it.message}" }
            println("failed: $chain")
            exitProcess(3)
        }
    }

    private fun platform(arg: Map<String, String>) {
        fun need(name: String) = arg[name] ?: error("no $name= argument")
        // The library JNA loaded: the jar's resource for this JVM's platform, and its ELF machine.
        val resource = "${Platform.RESOURCE_PREFIX}/libcobo_oauth.so"
        val url = NativeProbe::class.java.classLoader.getResource(resource) ?: error("no $resource on the class path")
        val header = url.openStream().use { it.readNBytes(20) }
        val machine = (header[18].toInt() and 0xff) or ((header[19].toInt() and 0xff) shl 8)
        val loaded = NativeLibrary.getInstance("cobo_oauth").file
        val mapped = File("/proc/self/maps").readLines().any { loaded != null && it.contains(loaded.path) }
        println("platform os.arch=${System.getProperty("os.arch")} resource=$url elf_machine=$machine loaded=$loaded mapped=$mapped")

        AppKey(Secret(need("seed"))).use { key ->
            val signed = key.signRequestWithNonce(need("method"), need("path"), need("query"), need("body"), need("nonce"))
            check(signed.signature == need("signature")) { "the signature differs from the vector's" }
            println("vector ok ${signed.apiKey}")
            val config = ClientConfig(baseUrl = need("base_url"), responsePublicKey = need("response_key"))
            OAuthClient(key, config).use { client ->
                val first = client.getOrgToken(need("client_id"), need("org_id"))
                val second = client.refreshOrgToken(need("client_id"), first.refreshToken)
                check(second.accessToken != first.accessToken) { "the refresh returned the same access token" }
                println("token get=${first.tokenType}/${first.expiresIn} refresh=${second.tokenType}/${second.expiresIn}")
            }
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
