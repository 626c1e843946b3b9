package com.cobo.oauth

import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.DynamicTest.dynamicTest
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.assertDoesNotThrow
import org.junit.jupiter.api.assertThrows

/** tests/vectors: the expected values come from an independent implementation (PyNaCl). */
class VectorsTest {
    private fun cases(name: String, check: (JSONObject) -> Unit): List<DynamicTest> =
        Repo.vectors(name).map { case -> dynamicTest(case.getString("name")) { check(case) } }

    @TestFactory
    fun signing() = cases("signing") { case ->
        val method = case.getString("method")
        val path = case.getString("path")
        val nonce = case.getString("nonce")
        val query = case.getString("query")
        val body = case.getString("body")
        assertEquals(case.getString("content"), canonicalContent(method, path, nonce, query, body))
        assertEquals(case.getString("digest"), contentDigest(case.getString("content")))
        AppKey(Secret(case.getString("private_key_hex"))).use { key ->
            assertEquals(case.getString("api_key"), key.apiKey())
            val signed = key.signRequestWithNonce(method, path, query, body, nonce)
            assertEquals(
                SignedRequest(
                    apiKey = case.getString("api_key"),
                    nonce = nonce,
                    signature = case.getString("signature"),
                    content = Secret(case.getString("content")),
                    digest = case.getString("digest"),
                ),
                signed,
            )
        }
    }

    @TestFactory
    fun keys() = cases("keys") { case ->
        val input = Secret(case.getString("input"))
        if (case.getBoolean("valid")) {
            AppKey(input).use { assertEquals(case.getString("api_key"), it.apiKey()) }
        } else {
            assertEquals("InvalidKey", case.getString("error"))
            assertThrows<CoboOAuthException.InvalidKey> { AppKey(input) }
        }
    }

    @TestFactory
    fun verify() = cases("verify") { case ->
        val key = case.getString("public_key_hex")
        val body = case.getString("body").toByteArray(Charsets.UTF_8)
        val timestamp = case.getString("timestamp")
        val signature = case.getString("signature")
        ResponseVerifier.withKey(key).use { verifier ->
            if (case.getBoolean("valid")) {
                assertDoesNotThrow { verifier.verify(body, timestamp, signature) }
                assertDoesNotThrow { verifyWebhookWithKey(body, timestamp, signature, key) }
            } else {
                assertThrows<CoboOAuthException.ResponseSignature> { verifier.verify(body, timestamp, signature) }
                assertThrows<CoboOAuthException.ResponseSignature> { verifyWebhookWithKey(body, timestamp, signature, key) }
            }
        }
    }
}
