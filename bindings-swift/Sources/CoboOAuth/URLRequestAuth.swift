// CoboAuth for Foundation's URL loading: sign and authorize a URLRequest, verify an
// HTTPURLResponse and its Data, and a URLSession call doing both.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension URLRequest {
    /// Adds `Authorization: Bearer <token>` for `orgId` and the `Biz-Api-*` headers, signed
    /// over the URL's percent-encoded path and query and `httpBody`, exactly as they are
    /// sent. The manager renews the token first when it is due (a blocking network call),
    /// since Cobo answers an expired token with a 500. Build the query percent-encoded
    /// yourself when values may hold `+` (URLComponents.queryItems leaves it as is, and
    /// servers read it as a space). Throws `InvalidArgument` for a body stream or a body
    /// that is not UTF-8; nothing is sent.
    ///
    /// Returns the access token it set (a `Secret`), for
    /// `manager.invalidate(orgId:accessToken:)` when Cobo refuses it (`classifyRefusal`
    /// answers `.accessToken`). Each call draws a fresh nonce: authorize a copy of the
    /// original request again to resend it after a CoboAuth refusal (`.coboAuth`).
    @discardableResult
    public mutating func authorizeForCobo(key: AppKey, manager: TokenManager, orgId: String) throws -> Secret {
        guard let url, let components = URLComponents(url: url, resolvingAgainstBaseURL: true) else {
            throw CoboOAuthError.InvalidArgument(reason: "the request has no valid URL")
        }
        if httpBodyStream != nil {
            throw CoboOAuthError.InvalidArgument(reason: "a body stream cannot be signed: set httpBody")
        }
        guard let body = String(data: httpBody ?? Data(), encoding: .utf8) else {
            throw CoboOAuthError.InvalidArgument(reason: "the body is not UTF-8; CoboAuth signs it as text")
        }
        // The token first: a renewal may take a while, and the nonce is a timestamp that
        // Cobo accepts only near its own clock.
        let token = try manager.accessToken(orgId: orgId)
        let signed = key.signRequest(
            method: (httpMethod ?? "GET").uppercased(),
            path: components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath,
            query: components.percentEncodedQuery ?? "",
            body: body
        )
        setValue("Bearer \(token.value)", forHTTPHeaderField: "Authorization")
        setValue(signed.apiKey, forHTTPHeaderField: "Biz-Api-Key")
        setValue(signed.nonce, forHTTPHeaderField: "Biz-Api-Nonce")
        setValue(signed.signature, forHTTPHeaderField: "Biz-Api-Signature")
        return token
    }
}

extension HTTPURLResponse {
    /// Returns when Cobo signed `data` (`Biz-Resp-Signature` over `<data>|<Biz-Timestamp>`,
    /// either header spelling). Throws `ResponseSignature` for a missing or bad signature,
    /// `Unavailable` for a proxy's unsigned 414, 429, 500, 502-504 or 520-524 (proxies, load balancers). Does no I/O.
    public func verifyCoboSignature(data: Data, verifier: ResponseVerifier) throws {
        let timestamp = value(forHTTPHeaderField: "Biz-Timestamp") ?? value(forHTTPHeaderField: "Biz_Timestamp")
        let signature = value(forHTTPHeaderField: "Biz-Resp-Signature")
            ?? value(forHTTPHeaderField: "Biz_Resp_Signature")
        switch (timestamp, signature) {
        case let (timestamp?, signature?):
            try verifier.verify(body: data, timestamp: timestamp, signature: signature)
        case _ where [414, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524].contains(statusCode):
            throw CoboOAuthError.Unavailable(status: UInt16(statusCode))
        default:
            throw CoboOAuthError.ResponseSignature(reason: "HTTP \(statusCode) response carries no Cobo signature")
        }
    }

    /// What this answer (verified first) asks of its sender: `classifyRefusal` for a 401
    /// or a 500, nil (final) for any other status without reading `data`.
    public func coboRefusal(data: Data) -> Refusal? {
        guard statusCode == 401 || statusCode == 500 else { return nil }
        return classifyRefusal(status: UInt16(statusCode), body: data)
    }
}

/// Fresh signatures `coboData` sends after CoboAuth refusals of one call (the core's
/// `COBOAUTH_RESENDS`): enough for the rare nonce collision between hosts.
private let coboAuthResends = 3

extension URLSession {
    /// Sends `request` for `orgId`, authorized and signed (see `URLRequest.authorizeForCobo`),
    /// and returns the answer once its Cobo signature verifies (`verifier` nil: unchecked,
    /// not recommended). Any verified status is returned: a signed 4XX or 5XX is Cobo's
    /// real answer.
    ///
    /// Resends only what Cobo refused before acting on it (`classifyRefusal`, asked for a
    /// 401 or a 500 only): a copy of `request` freshly signed (new nonce and signature)
    /// after a 401 refusing its CoboAuth headers, whatever the method, at most 3 times;
    /// and once after a 500 refusing its access token, which is first reported to
    /// `manager.invalidate(orgId:accessToken:)` (concurrent callers refused the same token
    /// cause one renewal) so that the resend carries the manager's new token. Never after
    /// any other answer, a generic 500 included: a WaaS call may not be idempotent. The
    /// answer returned is the last one, refused or not. With `verifier` nil, a refusal is
    /// taken on trust: anyone on the path can then cost the call its resends and the org a
    /// renewal.
    public func coboData(
        for request: URLRequest, key: AppKey, manager: TokenManager, orgId: String, verifier: ResponseVerifier?
    ) async throws -> (Data, HTTPURLResponse) {
        var resends = 0
        var renewed = false
        while true {
            var attempt = request
            let token = try attempt.authorizeForCobo(key: key, manager: manager, orgId: orgId)
            let (data, response) = try await send(attempt)
            if let verifier {
                try response.verifyCoboSignature(data: data, verifier: verifier)
            }
            switch response.coboRefusal(data: data) {
            case .coboAuth? where resends < coboAuthResends:
                resends += 1
            case .accessToken? where !renewed:
                _ = try manager.invalidate(orgId: orgId, accessToken: token)
                renewed = true
            default:
                return (data, response)
            }
        }
    }

    /// A data task as an async call (FoundationNetworking on Linux lacks `data(for:)` on
    /// older toolchains).
    private func send(_ request: URLRequest) async throws -> (Data, HTTPURLResponse) {
        try await withCheckedThrowingContinuation { continuation in
            dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: CoboOAuthError.Transport(reason: error.localizedDescription))
                } else if let response = response as? HTTPURLResponse {
                    continuation.resume(returning: (data ?? Data(), response))
                } else {
                    continuation.resume(throwing: CoboOAuthError.Transport(reason: "no HTTP response"))
                }
            }.resume()
        }
    }
}
