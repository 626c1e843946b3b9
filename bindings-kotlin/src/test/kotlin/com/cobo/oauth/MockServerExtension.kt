package com.cobo.oauth

import org.junit.jupiter.api.extension.ExtensionContext
import org.junit.jupiter.api.extension.ParameterContext
import org.junit.jupiter.api.extension.ParameterResolver

/**
 * Injects the test run's one [MockServer]: started by the first test class that asks,
 * stopped (stdin closed) when the whole run ends.
 */
class MockServerExtension : ParameterResolver {
    override fun supportsParameter(parameter: ParameterContext, context: ExtensionContext): Boolean =
        parameter.parameter.type == MockServer::class.java

    override fun resolveParameter(parameter: ParameterContext, context: ExtensionContext): MockServer =
        context.root.getStore(ExtensionContext.Namespace.GLOBAL)
            .getOrComputeIfAbsent("cobo-oauth-mock", { Running(MockServer.start()) }, Running::class.java)
            .server

    private class Running(val server: MockServer) : ExtensionContext.Store.CloseableResource {
        override fun close() = server.close()
    }
}
