package com.cobo.oauth

/**
 * A token or key that must not be printed: the UDL's `Secret`.
 *
 * [OrgToken.accessToken], [OrgToken.refreshToken], the [AppKey] constructor,
 * [AppKey.privateKeyHex] and [OAuthClient.refreshOrgToken] use it, so a record or
 * exception printed to a log shows `Secret(…)` instead of the value. Read [value]
 * only where the secret is about to be used (a header, a secret store).
 *
 * Mapped by `[bindings.kotlin.custom_types.Secret]` in core/uniffi.toml; the
 * generated code converts it to and from a plain string at the FFI boundary.
 */
class Secret(val value: String) {
    override fun toString(): String = "Secret(…)"

    override fun equals(other: Any?): Boolean = other is Secret && other.value == value

    override fun hashCode(): Int = value.hashCode()
}
