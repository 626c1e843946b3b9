package com.cobo.oauth

/**
 * An [OAuthClient]'s calls as `suspend` functions: UniFFI's generated [UniffiAsyncOAuthClient]
 * as it is, made here only so that the core's threads that resume its coroutines stay
 * attached to the JVM ([AsyncCallbackThreads]).
 */
open class AsyncOAuthClient(client: OAuthClient) : UniffiAsyncOAuthClient(client) {
    init {
        AsyncCallbackThreads.keepAttached()
    }
}
