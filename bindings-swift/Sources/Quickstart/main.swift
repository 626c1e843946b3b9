import CoboOAuth
import Foundation

// Read the app's key and IDs from the environment; never hard-code them.
let env = ProcessInfo.processInfo.environment
guard let privateKeyHex = env["COBO_APP_PRIVATE_KEY"],
      let clientId = env["COBO_CLIENT_ID"],
      let orgId = env["COBO_ORG_ID"],
      // Cobo's environment by name, as every example reads it: dev, sandbox or prod.
      let environment = ["dev": Environment.dev, "sandbox": .sandbox, "prod": .prod][env["COBO_ENV"] ?? "sandbox"]
else {
    print("set COBO_APP_PRIVATE_KEY, COBO_CLIENT_ID and COBO_ORG_ID (and COBO_ENV: dev, sandbox or prod)")
    exit(2)
}
// COBO_BASE_URL may name another server (a proxy, a local mock), which then needs its
// own COBO_RESPONSE_PUBLIC_KEY.
let config = ClientConfig(
    environment: environment,
    baseUrl: env["COBO_BASE_URL"],
    responsePublicKey: env["COBO_RESPONSE_PUBLIC_KEY"]
)

do {
    let key = try AppKey(privateKeyHex: Secret(privateKeyHex))
    let client = try OAuthClient(key: key, config: config)

    let token = try client.getOrgToken(clientId: clientId, orgId: orgId)
    print("got a \(token.tokenType) token, expires in \(token.expiresIn) s")
    // Tokens print as <redacted>; send one with `token.accessToken.value`:
    // request.setValue("Bearer \(token.accessToken.value)", forHTTPHeaderField: "Authorization")

    // Refresh before `expiresAt`. Each refresh spends the old refresh token: store the new one.
    let refreshed = try client.refreshOrgToken(clientId: clientId, refreshToken: token.refreshToken)
    print("refreshed, expires at \(refreshed.expiresAt)")
} catch CoboOAuthError.OAuth(let status, let error, let description) {
    // 4XX: fix the request, or have the organization authorize the app again
    // (`invalid_grant` on refresh: the refresh token is spent or expired).
    print("Cobo refused the request (\(status) \(error)): \(description)")
    exit(1)
} catch CoboOAuthError.Server(let status, let code, let message, let errorId) {
    print("Cobo failed (\(status), code \(code)): \(message); quote \(errorId) to support")
    exit(1)
} catch CoboOAuthError.Unavailable, CoboOAuthError.Transport, CoboOAuthError.Timeout {
    print("Cobo is unreachable or busy: try again later")
    exit(1)
} catch {
    print("failed: \(error)")
    exit(1)
}
