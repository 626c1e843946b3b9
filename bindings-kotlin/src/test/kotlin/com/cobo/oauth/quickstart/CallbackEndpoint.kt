package com.cobo.oauth.quickstart

// The region between the markers is the README's "Webhooks and callbacks" example, word
// for word (DeliveryTest checks that, and runs it).
// callback:begin
import com.cobo.oauth.CoboOAuthException
import com.cobo.oauth.ResponseVerifier
import com.cobo.oauth.callbackAnswer

/**
 * A callback endpoint's HTTP status and plain-text body. [rawBody] is the bytes as
 * received (never re-serialized JSON); [headers] as the server gives them, in any case;
 * [verifier] holds Cobo's key for your environment: `ResponseVerifier(Environment.PROD)`.
 */
fun answerCallback(
    rawBody: ByteArray,
    headers: Map<String, String>,
    verifier: ResponseVerifier,
    approve: (ByteArray) -> Boolean,
): Pair<Int, String> {
    try {
        verifier.verifyDelivery(rawBody, headers) // and Biz-Timestamp within maxAgeSecs = 300
    } catch (e: CoboOAuthException.ResponseSignature) {
        return 401 to "" // not from Cobo, or replayed: Cobo retries a real delivery
    }
    return 200 to callbackAnswer(approve(rawBody)) // "ok" or "deny"
}
// callback:end
