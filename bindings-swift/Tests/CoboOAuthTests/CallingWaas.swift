import CoboOAuth
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Lists an organization's wallets with URLSession: signed over the query and body sent,
/// with the org's always-valid token, the answer's Cobo signature checked. Make the
/// client and manager once in an app and share them.
func listWallets(
    key: AppKey,
    config: ClientConfig,  // ClientConfig(environment: .prod), …
    verifier: ResponseVerifier,  // ResponseVerifier(environment: .prod), …
    clientId: String,
    orgId: String
) async throws -> Data {
    let client = try OAuthClient(key: key, config: config)
    let manager = try TokenManager(client: client, clientId: clientId)
    guard let url = URL(string: client.baseUrl() + "/wallets?wallet_type=Custodial&limit=10") else {
        throw URLError(.badURL)
    }
    // Cobo answers an expired token with a 500: the manager renews it before this call.
    let (data, response) = try await URLSession.shared.coboData(
        for: URLRequest(url: url), key: key, manager: manager, orgId: orgId, verifier: verifier)
    guard response.statusCode == 200 else {
        throw URLError(.badServerResponse)
    }
    return data
}
