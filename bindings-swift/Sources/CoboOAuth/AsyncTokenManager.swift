// AsyncTokenManager: UniFFI's generated async token calls (UniffiAsyncTokenManager, renamed
// for Swift in core/uniffi.toml) with the cache asked first. A fresh cached token then costs
// one plain call: no Rust future, continuation or suspension, which cost more than the call.

/// A `TokenManager`'s `accessToken`, `authorizationHeader` and `token` as `async throws`
/// calls. A fresh cached token returns at once, on the caller's thread; a task that must
/// wait for a renewal suspends without holding a thread, and shares the org's one renewal
/// with every other caller of the same `TokenManager`, blocking ones included.
public final class AsyncTokenManager: UniffiAsyncTokenManager, @unchecked Sendable {
    /// As `TokenManager.accessToken(orgId:)`, without blocking.
    public override func accessToken(orgId: String) async throws -> Secret {
        if let cached = cachedAccessToken(orgId: orgId) { return cached }
        return try await super.accessToken(orgId: orgId)
    }

    /// As `TokenManager.authorizationHeader(orgId:)` ("Bearer <access token>"), without blocking.
    public override func authorizationHeader(orgId: String) async throws -> Secret {
        if let cached = cachedAccessToken(orgId: orgId) { return Secret("Bearer " + cached.value) }
        return try await super.authorizationHeader(orgId: orgId)
    }

    /// The access token when the cache serves it as it is, else nil (then await
    /// `accessToken`). Never waits and makes no request. Read as a plain string, empty for
    /// none: UniFFI's reader of an optional costs more than the call on Linux.
    public override func cachedAccessToken(orgId: String) -> Secret? {
        let cached = cachedAccessTokenOrEmpty(orgId: orgId)
        return cached.value.isEmpty ? nil : cached
    }
}
