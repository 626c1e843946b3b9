package com.cobo.oauth

import okhttp3.Interceptor
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import okhttp3.Response
import okhttp3.ResponseBody.Companion.toResponseBody
import okio.Buffer
import java.nio.charset.CharacterCodingException

/**
 * CoboAuth for OkHttp: signs each request over the encoded path, query and body bytes
 * OkHttp sends, adds `Authorization: Bearer <token>` for the organization, checks
 * Cobo's signature on the answer, and sends the request again when Cobo refused it
 * before acting on it.
 *
 * ```
 * val http = OkHttpClient.Builder()
 *     .addInterceptor(CoboAuthInterceptor(key, manager, ResponseVerifier(Environment.PROD), orgId))
 *     .build()
 * ```
 *
 * The token comes from [manager], which renews it by the clock before it expires (a
 * network call on the calling thread). A request body is read once, signed, and sent
 * as those same bytes on every attempt; a one-shot or duplex body cannot be signed.
 *
 * Resends, told by [classifyRefusal] from the status and the JSON `error_code` of a
 * verified answer (only a 401 or a 500 is looked at), whatever the method:
 * - a 401 refusing the CoboAuth headers (signature, nonce, or the nonce's timestamp;
 *   Cobo acted on nothing) is sent again with a fresh nonce and signature, at most 3
 *   times. Verified answers teach the core Cobo's clock, so a nonce refused for the
 *   host's clock is not refused again;
 * - a 500 naming the Bearer token (expired or revoked behind the manager's back) makes
 *   the interceptor [TokenManager.invalidate] the token it sent and send the request
 *   once more with the manager's token. Many calls refused with one token cause one
 *   renewal.
 *
 * Every other answer is returned as it is, a generic 500 included: a WaaS call may not
 * be idempotent. The refused responses are closed before the next attempt; the caller
 * gets the last one.
 *
 * Failures are [CoboOAuthException]s thrown from `execute()`:
 * [CoboOAuthException.ResponseSignature] for a missing or bad signature,
 * [CoboOAuthException.Unavailable] for a proxy's unsigned 414/429/500/502/503/504/520-524,
 * [CoboOAuthException.InvalidArgument] for a body that is not UTF-8, and the manager's
 * errors when it cannot get a token. With [verifier] `null`, answers are not checked
 * (not recommended), and refusals are classified from unchecked bodies.
 *
 * Add it with `addInterceptor`, not as a network interceptor: OkHttp may replay a
 * network request (retries, redirects), and each attempt needs a fresh nonce, which an
 * application interceptor gets by running again (a network interceptor also may not
 * call `proceed` twice). A logging interceptor added after this one sees the token:
 * `redactHeader("Authorization")` there.
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
        val text = utf8(body)
        val org = orgId(request)
        var resends = 0
        var renewed = false
        while (true) {
            // The token first: a renewal may take a while, and the nonce is best drawn last.
            val token = manager.accessToken(org)
            val signed = key.signRequest(request.method, request.url.encodedPath, request.url.encodedQuery ?: "", text)
            val builder = request.newBuilder()
                .header("Authorization", "Bearer ${token.value}")
                .header("Biz-Api-Key", signed.apiKey)
                .header("Biz-Api-Nonce", signed.nonce)
                .header("Biz-Api-Signature", signed.signature)
            // Send exactly the bytes that were signed, not a second rendering of the body.
            request.body?.let { builder.method(request.method, body.toRequestBody(it.contentType())) }
            val response = verified(chain.proceed(builder.build()))
            val refusal = refusal(response)
            when {
                refusal == Refusal.COBO_AUTH && resends < COBOAUTH_RESENDS -> {
                    response.close()
                    resends++
                }
                refusal == Refusal.ACCESS_TOKEN && !renewed -> {
                    response.close()
                    // Expires the manager's token only if it is still this one: the calls
                    // refused with it share one renewal.
                    manager.invalidate(org, token)
                    renewed = true
                }
                else -> return response
            }
        }
    }

    /** What a 401 or 500 asks of the caller; null for any other answer (which is not read). */
    private fun refusal(response: Response): Refusal? {
        val status = response.code
        if (status != 401 && status != 500) return null
        // A refusal is a small JSON object: a longer body is cut short, fails to parse, and is final.
        val bytes = response.peekBody(REFUSAL_MAX_BYTES).bytes()
        return classifyRefusal(status.toUShort(), bytes)
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

        /** Resends after CoboAuth refusals (the core's `COBOAUTH_RESENDS`). */
        const val COBOAUTH_RESENDS = 3

        /** Read of a 401 or 500 body to classify it. */
        const val REFUSAL_MAX_BYTES = 64L * 1024

        fun utf8(bytes: ByteArray): String =
            try {
                bytes.decodeToString(throwOnInvalidSequence = true)
            } catch (_: CharacterCodingException) {
                throw CoboOAuthException.InvalidArgument("the body is not UTF-8; CoboAuth signs it as text")
            }
    }
}
