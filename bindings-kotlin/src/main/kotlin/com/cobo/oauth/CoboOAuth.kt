package com.cobo.oauth

/**
 * The top-level functions whose generated Kotlin names Java cannot call: a function with
 * an unsigned argument is compiled to a mangled name (`redisTokenStore-XXXX`). Here they
 * take `long`/`int`, with the UDL's defaults as overloads:
 * `CoboOAuth.redisTokenStore(new Secret(url), "my-app:")`. Kotlin code may call either.
 */
object CoboOAuth {
    /** [redisTokenStore]: a TokenStore in Redis shared by every process and host of an app. */
    @JvmStatic
    @JvmOverloads
    @Throws(CoboOAuthException::class)
    fun redisTokenStore(url: Secret, keyPrefix: String, timeoutMs: Long = 2000): TokenStore =
        com.cobo.oauth.redisTokenStore(url, keyPrefix, nonNegative("timeoutMs", timeoutMs))

    /** [verifyDelivery]: a webhook or callback delivery, its headers in any case, its timestamp within the window. */
    @JvmStatic
    @JvmOverloads
    @Throws(CoboOAuthException::class)
    fun verifyDelivery(body: ByteArray, headers: Map<String, String>, environment: Environment, maxAgeSecs: Long = 300) =
        com.cobo.oauth.verifyDelivery(body, headers, environment, nonNegative("maxAgeSecs", maxAgeSecs))

    /** [ResponseVerifier.verifyDelivery]: as [verifyDelivery], with the verifier's key. */
    @JvmStatic
    @JvmOverloads
    @Throws(CoboOAuthException::class)
    fun verifyDelivery(verifier: ResponseVerifier, body: ByteArray, headers: Map<String, String>, maxAgeSecs: Long = 300) =
        verifier.verifyDelivery(body, headers, nonNegative("maxAgeSecs", maxAgeSecs))

    /** [classifyRefusal]: what a verified WaaS answer asks of an HTTP hook, or null. */
    @JvmStatic
    fun classifyRefusal(status: Int, body: ByteArray): Refusal? {
        require(status in 0..0xFFFF) { "status must be an HTTP status" }
        return com.cobo.oauth.classifyRefusal(status.toUShort(), body)
    }
}

/**
 * [value] as the UDL's unsigned type, refused when negative ([CoboOAuth]'s and
 * [ClientConfigBuilder]'s). Top-level, not in either class: an internal member's
 * unsigned return would put a mangled public name on a class Java calls.
 */
internal fun nonNegative(name: String, value: Long): ULong {
    require(value >= 0) { "$name must not be negative" }
    return value.toULong()
}
