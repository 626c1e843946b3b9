package com.cobo.oauth

import org.json.JSONObject
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.concurrent.TimeUnit

/**
 * The test CONNECT proxy (`cobo-oauth-mock proxy`) as a child process: it tunnels to
 * loopback and records the CONNECT targets and any request sent through it in clear text.
 */
class ConnectProxy private constructor(private val process: Process, ready: JSONObject) : AutoCloseable {
    val proxyUrl: String = ready.getString("proxy_url")
    private val controlUrl: String = ready.getString("control_url")
    private val http = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).build()

    /** `{"connect": [host:port…], "refused": n, "plaintext": ["METHOD host"…]}`. */
    fun seen(): JSONObject {
        val request = HttpRequest.newBuilder(URI.create("$controlUrl/seen")).GET().build()
        return JSONObject(http.send(request, HttpResponse.BodyHandlers.ofString()).body())
    }

    override fun close() {
        process.outputStream.close()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
    }

    companion object {
        /** Starts a proxy; [args] as the binary takes them (`--refuse 407`, `--credentials u:p`). */
        fun start(vararg args: String): ConnectProxy {
            val (process, ready) = startMockBinary("proxy", *args)
            return ConnectProxy(process, ready)
        }
    }
}
