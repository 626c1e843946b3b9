package com.cobo.oauth

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.nio.file.Path

/**
 * CoboOAuthLogging.install() picks SLF4J when the app has it and java.util.logging
 * when not; each case runs LoggingProbe in a fresh JVM, since the choice is per class path.
 */
class LoggingBackendTest {
    private val failed = "renewal failed org_id=probe-org error=transport"

    private fun probe(classPath: List<String>): String {
        val result = ChildJvm.run(classPath, LoggingProbe::class.java.name)
        assertEquals(0, result.exitCode, result.output)
        assertTrue("renewal threw Transport" in result.output) { result.output }
        return result.output
    }

    @Test
    fun `with SLF4J on the class path, records go to SLF4J`() {
        // The test class path has slf4j-api and slf4j-simple, which prints "[thread] LEVEL logger - message".
        val output = probe(ChildJvm.testClassPath)
        assertTrue("sink Slf4jLogSink" in output) { output }
        assertTrue("WARN cobo_oauth - $failed" in output) { output }
    }

    @Test
    fun `without SLF4J, records go to java util logging`() {
        val withoutSlf4j = ChildJvm.testClassPath.filterNot { Path.of(it).fileName.toString().startsWith("slf4j-") }
        assertEquals(2, ChildJvm.testClassPath.size - withoutSlf4j.size, "slf4j-api and slf4j-simple were on the class path")
        val output = probe(withoutSlf4j)
        assertTrue("sink JulLogSink" in output) { output }
        // java.util.logging's default console format: a "<date> cobo_oauth" line, then "WARNING: <message>".
        assertTrue("WARNING: $failed" in output) { output }
    }
}
