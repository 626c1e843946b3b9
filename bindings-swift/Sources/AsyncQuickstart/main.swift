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
let config = ClientConfig(
    environment: environment,
    baseUrl: env["COBO_BASE_URL"],
    responsePublicKey: env["COBO_RESPONSE_PUBLIC_KEY"]
)

do {
    let client = try OAuthClient(key: try AppKey(privateKeyHex: Secret(privateKeyHex)), config: config)
    // One TokenManager per app; AsyncTokenManager shares its cache and its renewals with
    // the blocking calls (manager.authorizationHeader(orgId:)) made elsewhere.
    let manager = try TokenManager(client: client, clientId: clientId)
    let tokens = AsyncTokenManager(manager: manager)

    // Many tasks at once: a task waiting for a renewal suspends (no thread is blocked),
    // and the tasks of one org share one request.
    let headers = try await withThrowingTaskGroup(of: Secret.self) { group in
        for _ in 0..<100 {
            group.addTask { try await tokens.authorizationHeader(orgId: orgId) }
        }
        var all: [Secret] = []
        while let header = try await group.next() { all.append(header) }
        return all
    }
    print("\(headers.count) tasks, \(Set(headers).count) distinct header")
    // request.setValue(headers[0].value, forHTTPHeaderField: "Authorization")
} catch CoboOAuthError.AuthorizationRequired(let org, let status, let error, _) {
    print("the organization \(org) must authorize the app again (\(status) \(error))")
    exit(1)
} catch {
    print("failed: \(error)")
    exit(1)
}
