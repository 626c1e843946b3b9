// Cobo's official Java SDK (com.cobo.waas2:cobo-waas2) as the reference; compiled only with
// the Maven profile java-sdk. Found by Main.kt through reflection.
package com.cobo.oauth.bench

import com.cobo.waas2.ApiClient
import com.cobo.waas2.CryptoUtils
import com.cobo.waas2.api.OAuthApi
import com.cobo.waas2.auth.LocalEd25519Signer
import com.cobo.waas2.auth.Signer
import okhttp3.Interceptor
import okhttp3.Response
import okhttp3.ResponseBody.Companion.toResponseBody
import okio.Buffer
import java.net.URLEncoder

class OfficialJavaSdk : OfficialSdk {
    override val version: String = ApiClient::class.java
        .getResourceAsStream("/META-INF/maven/com.cobo.waas2/cobo-waas2/pom.properties")
        .use { stream -> java.util.Properties().apply { stream?.let(::load) }.getProperty("version", "?") }
    override val description: String = "cobo-waas2 (Java) $version"

    override fun signature(privateKeyHex: String, content: String): String = LocalEd25519Signer(privateKeyHex).sign(content)

    /** AuthenticationInterceptor.addHeader's work for GET PATH?PARAMS, minus OkHttp's request
     * plumbing: the query string it rebuilds, the wall-clock nonce, Signer.sign (which builds
     * the key spec anew each time) and Signer.getPublicKey (which derives the public key
     * anew each time). */
    override fun signOperation(privateKeyHex: String): () -> Unit {
        val signer = LocalEd25519Signer(privateKeyHex)
        return {
            val query = StringBuilder()
            for ((name, value) in PARAMS) query.append(name).append('=').append(URLEncoder.encode(value, "UTF-8")).append('&')
            query.deleteCharAt(query.length - 1)
            val nonce = System.currentTimeMillis().toString()
            val signature = signer.sign("GET|$PATH|$nonce|$query|")
            val apiKey = signer.publicKey
            check(signature.length == 128 && apiKey.length == 64)
        }
    }

    /** OAuthApi.getToken through clients of this thread's own keys, taking a key only once the
     * clock has moved past the millisecond of its last request (the SDK's nonce is the
     * wall-clock millisecond; the mock refuses a reused one). */
    override fun getTokenOperation(mock: MockServer, thread: Int): () -> Unit {
        val clients = (0 until 8).map { k ->
            val pair = CryptoUtils.generateKeyPair()
            val clientId = "sdk-$thread-$k"
            mock.register(clientId, pair.publicKey)
            val api = ApiClient().setBasePath(mock.baseUrl)
            api.setHttpClient(
                api.httpClient.newBuilder()
                    .addInterceptor(MockAuthenticationInterceptor(LocalEd25519Signer(pair.privateKey), mock.responsePublicKey))
                    .build(),
            )
            clientId to OAuthApi(api)
        }
        check(clients[0].second.getToken(clients[0].first, ORG, "org_implicit").tokenType == "Bearer")
        val lastMs = LongArray(clients.size)
        var turn = 0
        return {
            val k = turn++ % clients.size
            while (System.currentTimeMillis() <= lastMs[k]) Thread.onSpinWait()
            val (clientId, api) = clients[k]
            api.getToken(clientId, ORG, "org_implicit")
            lastMs[k] = System.currentTimeMillis()
        }
    }
}

/**
 * The SDK's AuthenticationInterceptor (com.cobo.waas2.auth, v1.38.0), line for line, with
 * two changes that let it talk to the mock: the response key is the mock's (the SDK picks
 * one of Cobo's three keys by host name and throws for any other host), and the response
 * headers are read as the mock spells them, `Biz-Timestamp` and `Biz-Resp-Signature` (the
 * SDK reads `BIZ_TIMESTAMP` and `BIZ_RESP_SIGNATURE`). Signing and verification are the
 * SDK's own Signer and CryptoUtils.
 */
class MockAuthenticationInterceptor(private val signer: Signer, private val responsePublicKey: String) : Interceptor {
    override fun intercept(chain: Interceptor.Chain): Response {
        val original = chain.request()
        val url = original.url
        val path = url.pathSegments.joinToString("") { "/$it" }
        val query = StringBuilder()
        for (name in url.queryParameterNames) {
            val value = url.queryParameter(name)
            if (value != null) query.append(name).append('=').append(URLEncoder.encode(value, "UTF-8")).append('&')
        }
        if (query.isNotEmpty()) query.deleteCharAt(query.length - 1)
        val buffer = Buffer()
        original.body?.writeTo(buffer)
        val body = buffer.readUtf8()
        val nonce = System.currentTimeMillis().toString()
        val content = original.method + "|" + path + "|" + nonce + "|" + query + "|" + body
        val signature = signer.sign(content)
        val request = original.newBuilder()
            .removeHeader("BIZ-API-KEY").removeHeader("BIZ-API-NONCE").removeHeader("BIZ-API-SIGNATURE")
            .addHeader("BIZ-API-KEY", signer.publicKey)
            .addHeader("BIZ-API-NONCE", nonce)
            .addHeader("BIZ-API-SIGNATURE", signature)
            .build()
        val response = chain.proceed(request)
        if (response.code in setOf(414, 429, 502, 503)) return response

        val timestamp = response.header("Biz-Timestamp")
        val responseSignature = response.header("Biz-Resp-Signature")
        val responseBody = response.body?.string() ?: "null"
        if (!CryptoUtils.verifySignature("$responseBody|$timestamp", responsePublicKey, responseSignature)) {
            throw RuntimeException("response verify failed")
        }
        return response.newBuilder().body(responseBody.toResponseBody(response.body?.contentType())).build()
    }
}
