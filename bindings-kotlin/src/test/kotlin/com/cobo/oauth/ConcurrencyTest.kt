package com.cobo.oauth

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/** One OAuthClient (and one AppKey) shared by 16 threads. */
@ExtendWith(MockServerExtension::class)
class ConcurrencyTest(private val mock: MockServer) {
    private val threads = 16
    private val rounds = 5

    @Test
    fun `16 threads share one client`() {
        val app = mock.newApp()
        OAuthClient(app.key, mock.config()).use { client ->
            mock.reset()
            val start = CountDownLatch(1)
            val pool = Executors.newFixedThreadPool(threads)
            try {
                val results = (1..threads).map {
                    pool.submit<List<OrgToken>> {
                        start.await()
                        (1..rounds).map {
                            val token = client.getOrgToken(app.clientId, app.orgId)
                            client.refreshOrgToken(app.clientId, token.refreshToken)
                        }
                    }
                }
                start.countDown()
                val tokens = results.flatMap { it.get(60, TimeUnit.SECONDS) }
                assertEquals(threads * rounds, tokens.size)
                assertEquals(tokens.size, tokens.map { it.accessToken }.toSet().size, "access tokens are unique")
                assertEquals(tokens.size, tokens.map { it.refreshToken }.toSet().size, "refresh tokens are unique")
            } finally {
                pool.shutdownNow()
            }
            val counters = mock.counters()
            // Every request was signed with a fresh nonce: none was rejected as a replay.
            assertEquals(threads * rounds, counters.getInt("get"))
            assertEquals(threads * rounds, counters.getInt("refresh"))
            assertEquals(0, counters.getInt("rejected"))
        }
    }
}
