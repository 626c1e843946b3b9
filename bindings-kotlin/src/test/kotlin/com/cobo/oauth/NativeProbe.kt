package com.cobo.oauth

import kotlin.system.exitProcess

/**
 * A first use of the library in a fresh JVM, for tests that start one: prints
 * `ok <api key>`, or `failed: <exception chain>` and exits 3. A JVM crash instead
 * shows as another exit code and no such line.
 */
object NativeProbe {
    @JvmStatic
    fun main(args: Array<String>) {
        try {
            AppKey.generate().use { println("ok ${it.apiKey()}") }
        } catch (t: Throwable) {
            val chain = generateSequence(t) { it.cause }.joinToString(" <- ") { "${it.javaClass.name}: ${it.message}" }
            println("failed: $chain")
            exitProcess(3)
        }
    }
}
