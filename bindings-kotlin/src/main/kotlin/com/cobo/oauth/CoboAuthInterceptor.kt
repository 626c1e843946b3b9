package com.cobo.oauth

import okhttp3.Interceptor
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import okhttp3.Response
import okhttp3.ResponseBody.Companion.toResponseBody
import okio.Buffer
import java.nio.ByteBuffer
import java.nio.charset.CharacterCodingException
import java.nio.charset.CodingErrorAction

/**
 * CoboAuth for OkHttp: signs each request over the encoded path, query and body bytes
 * OkHttp sends, adds `Authorization: Bearer <token>` for the organization, and checks
 * Cobo's signature on the answer.
 *
 * ```
 * val http = OkHttpClient.Builder()
 *     .addInterceptor(CoboAuthInterceptor(key, manager, ResponseVerifier(Environment.PROD), orgId))
 *     .build()
 * ```
 *
 * The token comes from [manager], which renews it by the clock before it expires (a
 * network call on the calling thread), since Cobo answers an expired token with a 500.
 * A request body is read once, signed, and sent as those same bytes; a one-shot or
 * duplex body cannot be signed. Failures are [CoboOAuthException]s thrown from
 * `execute()`: [CoboOAuthException.ResponseSignature] for a missing or bad signature,
 * [CoboOAuthException.Unavailable] for a proxy's unsigned 414/429/500/502/503/504/520-524,
 * [CoboOAuthException.InvalidArgument] for a body that is not UTF-8. With
 * [verifier] `null`, answers are not checked (not recommended).
 *
 * Add it with `addInterceptor`, not as a network interceptor: OkHttp may replay a
 * network request (retries, redirects), and each attempt needs a fresh nonce, which an
 * application interceptor gets by running again. A logging interceptor added after
 * this one sees the token: `redactHeader("Authorization")` there.
 */
class CoboAuthInterceptor(
    private val key: AppKey,
    private val manager: TokenManager,
    private val verifier: ResponseVerifier?,
    private val orgId: (Request) -> String,
) : Interceptor {
    /** Acts for one organization. */
    constructor(key: AppKey, manager: TokenManager, verifier: ResponseVerifier?, orgId: String) :
        this(key, manager, verifier, { _: Request -> orgId })

    override fun intercept(chain: Interceptor.Chain): Response {
        val request = chain.request()
        val body = bodyBytes(request)
        val signed = key.signRequest(
            request.method,
            request.url.encodedPath,
            request.url.encodedQuery ?: "",
            utf8(body),
        )
        val token = manager.accessToken(orgId(request))
        val builder = request.newBuilder()
            .header("Authorization", "Bearer ${token.value}")
            .header("Biz-Api-Key", signed.apiKey)
            .header("Biz-Api-Nonce", signed.nonce)
            .header("Biz-Api-Signature", signed.signature)
        // Send exactly the bytes that were signed, not a second rendering of the body.
        request.body?.let { builder.method(request.method, body.toRequestBody(it.contentType())) }
        return verified(chain.proceed(builder.build()))
    }

    private fun bodyBytes(request: Request): ByteArray {
        val body = request.body ?: return ByteArray(0)
        if (body.isOneShot() || body.isDuplex()) {
            throw CoboOAuthException.InvalidArgument("a one-shot or duplex body cannot be signed: send bytes")
        }
        return Buffer().also { body.writeTo(it) }.readByteArray()
    }

    private fun verified(response: Response): Response {
        val verifier = verifier ?: return response
        val status = response.code
        val raw = response.body
        val bytes = raw?.bytes() ?: ByteArray(0)
        val timestamp = response.header("Biz-Timestamp") ?: response.header("Biz_Timestamp")
        val signature = response.header("Biz-Resp-Signature") ?: response.header("Biz_Resp_Signature")
        when {
            timestamp != null && signature != null -> verifier.verify(bytes, timestamp, signature)
            status in PROXY_STATUSES -> throw CoboOAuthException.Unavailable(status.toUShort())
            else -> throw CoboOAuthException.ResponseSignature("HTTP $status response carries no Cobo signature")
        }
        return response.newBuilder().body(bytes.toResponseBody(raw?.contentType())).build()
    }

    override fun toString(): String =
        "CoboAuthInterceptor(apiKey=${key.apiKey()}, responses ${if (verifier != null) "verified" else "NOT verified"})"

    private companion object {
        /** Proxy answers that carry no Cobo signature (as the core's client treats them). */
        val PROXY_STATUSES = setOf(414, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524)

        fun utf8(bytes: ByteArray): String =
            try {
                Charsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString()
            } catch (_: CharacterCodingException) {
                throw CoboOAuthException.InvalidArgument("the body is not UTF-8; CoboAuth signs it as text")
            }
    }
}
