package com.cobo.oauth

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertDoesNotThrow
import java.nio.file.Files
import java.util.concurrent.TimeUnit

/**
 * A stale or mismatched native library must give a clear exception on first use, not
 * a JVM crash: UniFFI's contract-version and API-checksum checks run before anything
 * else touches the library (generate-bindings.sh wires them into the library loader).
 */
class InitializationCheckTest {
    private val generated = Repo.buildDir.resolve("generated-sources/uniffi/com/cobo/oauth/cobo_oauth.kt")

    @Test
    fun `uniffiEnsureInitialized passes against the bundled library`() {
        assertDoesNotThrow { uniffiEnsureInitialized() }
    }

    @Test
    fun `the library loader runs the checks before registering the library`() {
        val source = Files.readString(generated)
        val loader = source.substringAfter("internal object UniffiLib {").substringBefore("internal fun ensureInitialized()")
        val check = loader.indexOf("IntegrityCheckingUniffiLib.ensureInitialized()")
        val register = loader.indexOf("Native.register(UniffiLib::class.java")
        assertTrue(check in 0 until register) { "UniffiLib's init must run the integrity checks first:\n$loader" }
        assertTrue(source.contains("throw RuntimeException(\"UniFFI API checksum mismatch"))
    }

    @Test
    fun `a library with other checksums fails with an exception, not a crash`() {
        val stub = buildStubLibrary()
        val result = ChildJvm.run(
            ChildJvm.testClassPath,
            NativeProbe::class.java.name,
            "uniffi.component.cobo_oauth.libraryOverride" to stub.toString(),
        )
        assertEquals(3, result.exitCode, result.output)
        assertTrue(result.output.contains("failed: java.lang.ExceptionInInitializerError")) { result.output }
        assertTrue(result.output.contains("java.lang.RuntimeException: UniFFI API checksum mismatch")) { result.output }
    }

    /**
     * A shared library exporting the functions the check reads, with the right contract
     * version and every checksum 0: what a library built from another UDL looks like to
     * the check. It exports nothing else, so only the check can touch it safely.
     */
    private fun buildStubLibrary(): java.nio.file.Path {
        val source = Files.readString(generated)
        val checksums = Regex("""external fun (uniffi_cobo_oauth_checksum_\w+)\(""").findAll(source).map { it.groupValues[1] }.toList()
        assertTrue(checksums.size >= 17) { "found ${checksums.size} checksum functions" }
        val version = Regex("""val bindings_contract_version = (\d+)""").find(source)!!.groupValues[1]
        val dir = Files.createDirectories(Repo.buildDir.resolve("checksum-stub"))
        val c = dir.resolve("stub.c")
        Files.writeString(
            c,
            checksums.joinToString("\n", postfix = "\n") { "unsigned short $it(void) { return 0; }" } +
                "unsigned int ffi_cobo_oauth_uniffi_contract_version(void) { return $version; }\n",
        )
        val lib = dir.resolve("libstub.so")
        val cc = ProcessBuilder("cc", "-shared", "-fPIC", "-o", lib.toString(), c.toString()).inheritIO().start()
        assertTrue(cc.waitFor(60, TimeUnit.SECONDS) && cc.exitValue() == 0) { "cc failed to build $lib" }
        return lib
    }
}
