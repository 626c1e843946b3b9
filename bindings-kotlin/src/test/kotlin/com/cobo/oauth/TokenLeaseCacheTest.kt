package com.cobo.oauth

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.time.Instant
import java.util.concurrent.atomic.AtomicInteger

/**
 * TokenManager.accessToken serves the core's lease from a Kotlin-side cache
 * (TokenLeaseCache, in the hand-written TokenManager): the same token as the core's,
 * never past the lease's serveUntil, dropped by invalidate, never printed.
 */
@ExtendWith(MockServerExtension::class)
class TokenLeaseCacheTest(private val mock: MockServer) {
    private val app = mock.newApp()
    private val org = app.orgId
    private val client = OAuthClient(app.key, mock.config().copy(maxRetries = 0U))

    private fun manager(marginSecs: ULong = 0UL) =
        TokenManager(client, app.clientId, null, TokenManagerConfig(refreshMarginSecs = marginSecs))

    @Test
    fun `a cached token is the core's, and is served without another request`() {
        manager(marginSecs = 600UL).use { manager ->
            val lease = manager.lease(org)
            val stored = manager.token(org)
            assertEquals(stored.token.accessToken, lease.accessToken)
            assertEquals(stored.token.expiresAt.minusSeconds(600), lease.serveUntil)
            mock.reset()
            repeat(1000) { assertEquals(lease.accessToken, manager.accessToken(org)) }
            assertEquals("Bearer ${lease.accessToken.value}", manager.authorizationHeader(org).value)
            assertEquals(0, mock.counters().getInt("total"))
        }
    }

    @Test
    fun `invalidate drops the Kotlin lease too`() {
        manager().use { manager ->
            val first = manager.accessToken(org)
            assertEquals(first, manager.accessToken(org))
            mock.reset()
            assertTrue(manager.invalidate(org, first))
            val second = manager.accessToken(org)
            assertNotEquals(first, second)
            assertEquals(second, manager.accessToken(org))
            assertEquals(1, mock.counters().getInt("refresh"))
        }
    }

    @Test
    fun `a lease that has run out is not served`() {
        // A margin longer than the token's life: the lease is over when issued, so every
        // call goes to the core, which renews.
        manager(marginSecs = 50_000UL).use { manager ->
            val first = manager.accessToken(org)
            assertNotEquals(first, manager.accessToken(org))
        }
    }

    @Test
    fun `a lease fetched while the org was invalidated is not kept`() {
        val cache = TokenLeaseCache()
        val leases = AtomicInteger()
        val fake = { orgId: String ->
            val n = leases.incrementAndGet()
            if (n == 1) cache.drop(orgId) // an invalidate lands while the first lease is in flight
            TokenLease(Secret("token-$n"), Instant.now().plusSeconds(60))
        }
        assertEquals(Secret("token-1"), cache.accessToken("org", fake))
        assertEquals(Secret("token-2"), cache.accessToken("org", fake))
        assertEquals(Secret("token-2"), cache.accessToken("org", fake))
        assertEquals(2, leases.get())
    }

    @Test
    fun `the cache never prints a token, and a closed manager serves nothing`() {
        val manager = manager()
        val token = manager.accessToken(org).value
        val cache = TokenManager::class.java.getDeclaredField("leases").apply { isAccessible = true }.get(manager)
        assertEquals("TokenLeaseCache(1 orgs)", cache.toString())
        assertFalse(manager.toString().contains(token))
        assertFalse(manager.lease(org).toString().contains(token))
        manager.close()
        assertThrows<IllegalStateException> { manager.accessToken(org) }
        assertTrue(cache.toString().startsWith("TokenLeaseCache(0"))
    }
}
