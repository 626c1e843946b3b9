package com.cobo.oauth

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.nio.file.Files
import java.nio.file.Path
import java.util.Properties
import java.util.jar.JarFile

/**
 * The packaged jar carries this build's native library under linux-x86-64/, and the
 * jar plus its runtime dependencies (JNA, the Kotlin stdlib, kotlinx-coroutines) is all a
 * user needs: no jna.library.path.
 */
class BundledJarIT {
    private val jar = Path.of(System.getProperty("cobo.jar") ?: error("Failsafe sets cobo.jar"))

    @Test
    fun `the jar holds the freshly built library`() {
        JarFile(jar.toFile()).use { file ->
            val entry = file.getJarEntry("linux-x86-64/libcobo_oauth.so") ?: error("no linux-x86-64/libcobo_oauth.so in $jar")
            val bundled = file.getInputStream(entry).use { it.readBytes() }
            assertArrayEquals(Files.readAllBytes(Repo.buildDir.resolve("native/linux-x86-64/libcobo_oauth.so")), bundled)
        }
    }

    /** The README's `<dependency>` names this jar: the Maven descriptor packaged in it has those coordinates. */
    @Test
    fun `the README's dependency is this jar's coordinates`() {
        val shown = Repo.text("bindings-kotlin/README.md").substringAfter("```xml\n<dependency>\n").substringBefore("</dependency>")
        fun tag(name: String) = Regex("<$name>([^<]+)</$name>").find(shown)?.groupValues?.get(1) ?: error("no <$name> in the README's dependency")
        val descriptor = JarFile(jar.toFile()).use { file ->
            val entry = file.getJarEntry("META-INF/maven/${tag("groupId")}/${tag("artifactId")}/pom.properties")
                ?: error("$jar has no Maven descriptor for ${tag("groupId")}:${tag("artifactId")}")
            Properties().apply { file.getInputStream(entry).use { load(it) } }
        }
        val coordinates = listOf("groupId", "artifactId", "version")
        assertEquals(coordinates.map(::tag), coordinates.map { descriptor.getProperty(it) })
    }

    /** The jar's runtime dependencies, as its POM declares them, from the test class path. */
    private val dependencies = ChildJvm.testClassPath.filter {
        val name = Path.of(it).fileName.toString()
        name.startsWith("jna-") || name.startsWith("kotlin-stdlib-") || name.startsWith("kotlinx-coroutines-core-jvm-")
    }
    private val probeClasses = Repo.buildDir.resolve("test-classes").toString()

    @Test
    fun `the jar works with only JNA, the Kotlin stdlib and kotlinx-coroutines beside it`() {
        assertEquals(3, dependencies.size, "JNA, kotlin-stdlib and kotlinx-coroutines-core-jvm on the test class path: $dependencies")
        val result = ChildJvm.run(listOf(jar.toString(), probeClasses) + dependencies, NativeProbe::class.java.name)
        assertEquals(0, result.exitCode, result.output)
        assertTrue(Regex("""ok [0-9a-f]{64}""").containsMatchIn(result.output)) { result.output }
    }

    @Test
    fun `a suspend call works from the jar`() {
        val result = ChildJvm.run(listOf(jar.toString(), probeClasses) + dependencies, AsyncNativeProbe::class.java.name)
        assertEquals(0, result.exitCode, result.output)
        assertTrue(result.output.contains("ok Transport")) { result.output }
    }
}
