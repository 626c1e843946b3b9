package com.cobo.oauth

/**
 * An exception's UDL variant name and fields under their UDL (snake_case) names, as the
 * fault matrix spells them. The `when` is exhaustive over the sealed hierarchy: a new
 * variant in the UDL does not compile until it is added here.
 */
val CoboOAuthException.variant: String
    get() = this::class.simpleName!!

val CoboOAuthException.fields: Map<String, Any>
    get() = when (this) {
        is CoboOAuthException.InvalidKey -> mapOf("reason" to reason)
        is CoboOAuthException.InvalidArgument -> mapOf("reason" to reason)
        is CoboOAuthException.OAuth ->
            mapOf("status" to status.toLong(), "error" to error, "error_description" to errorDescription)
        is CoboOAuthException.Server -> mapOf(
            "status" to status.toLong(),
            "error_code" to errorCode,
            "error_message" to errorMessage,
            "error_id" to errorId,
        )
        is CoboOAuthException.Unavailable -> mapOf("status" to status.toLong())
        is CoboOAuthException.Transport -> mapOf("reason" to reason)
        is CoboOAuthException.Timeout -> mapOf("reason" to reason)
        is CoboOAuthException.InvalidResponse -> mapOf("status" to status.toLong(), "reason" to reason)
        is CoboOAuthException.ResponseSignature -> mapOf("reason" to reason)
        is CoboOAuthException.Store -> mapOf("reason" to reason)
        is CoboOAuthException.AuthorizationRequired -> mapOf(
            "org_id" to orgId,
            "status" to status.toLong(),
            "error" to error,
            "error_description" to errorDescription,
        )
        is CoboOAuthException.Internal -> mapOf("reason" to reason)
    }
