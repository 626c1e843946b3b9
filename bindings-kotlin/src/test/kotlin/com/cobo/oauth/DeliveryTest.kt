package com.cobo.oauth

import com.cobo.oauth.quickstart.answerCallback
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.lang.reflect.Modifier

/**
 * Webhook and callback deliveries (headers in any case, the timestamp's age, `ok`/`deny`),
 * the README's callback endpoint, and the Java-facing API: no mangled name, a builder.
 */
class DeliveryTest {
    private val cobo = AppKey.generate() // stands in for Cobo's key
    private val verifier = ResponseVerifier.withKey(cobo.apiKey())
    private val body = "POST|/hook|1|".toByteArray()

    /** CoboAuth content `POST|/hook|1||<ms>` is exactly `<body>|<ms>`, what a delivery signs. */
    private fun headers(sentMs: Long): Map<String, String> {
        val signed = cobo.signRequestWithNonce("POST", "/hook", "", sentMs.toString(), "1")
        return mapOf("biz-timestamp" to sentMs.toString(), "BIZ_RESP_SIGNATURE" to signed.signature)
    }

    private fun now() = System.currentTimeMillis()

    @Test
    fun `a fresh delivery verifies, an old or tampered one does not`() {
        verifier.verifyDelivery(body, headers(now()))
        CoboOAuth.verifyDelivery(verifier, body, headers(now() - 400_000), 600)
        val old = assertThrows<CoboOAuthException.ResponseSignature> { CoboOAuth.verifyDelivery(verifier, body, headers(now() - 400_000)) }
        assertTrue(old.reason.contains("older than 300 s")) { old.reason }
        assertThrows<CoboOAuthException.ResponseSignature> { verifier.verifyDelivery("x".toByteArray(), headers(now())) }
        assertThrows<CoboOAuthException.ResponseSignature> { CoboOAuth.verifyDelivery(body, headers(now()), Environment.SANDBOX) }
    }

    @Test
    fun `the README shows CallbackEndpoint kt, and it answers as Cobo expects`() {
        val source = Repo.text("bindings-kotlin/src/test/kotlin/com/cobo/oauth/quickstart/CallbackEndpoint.kt")
        val region = source.substringAfter("// callback:begin\n").substringBefore("// callback:end")
        assertTrue(Repo.text("bindings-kotlin/README.md").contains("```kotlin\n$region```")) { "README must show the callback region" }
        assertEquals(200 to "ok", answerCallback(body, headers(now()), verifier) { true })
        assertEquals(200 to "deny", answerCallback(body, headers(now()), verifier) { false })
        assertEquals(401 to "", answerCallback(body, headers(now() - 600_000), verifier) { true })
    }

    @Test
    fun `Java calls every function by its plain name`() {
        for (cls in listOf(CoboOAuth::class.java, ClientConfigBuilder::class.java)) {
            val mangled = cls.methods.filter { Modifier.isPublic(it.modifiers) && it.name.contains('-') }.map { it.name }
            assertEquals(emptyList<String>(), mangled, cls.name)
        }
        val redis = CoboOAuth::class.java.getMethod("redisTokenStore", Secret::class.java, String::class.java)
        assertTrue(Modifier.isStatic(redis.modifiers))
        assertEquals(Refusal.COBO_AUTH, CoboOAuth.classifyRefusal(401, """{"error_code":2024}""".toByteArray()))
    }

    @Test
    fun `the builder keeps the UDL's defaults for what it is not told`() {
        val built = ClientConfigBuilder().environment(Environment.SANDBOX).totalTimeoutMs(20_000).maxRetries(1).build()
        assertEquals(ClientConfig(environment = Environment.SANDBOX, totalTimeoutMs = 20_000uL, maxRetries = 1u), built)
        assertThrows<IllegalArgumentException> { ClientConfigBuilder().timeoutMs(-1) }
    }
}
