package com.cobo.oauth

import java.io.File
import java.nio.file.Path
import java.util.concurrent.TimeUnit

/** Runs a main class in a fresh JVM, with no JNA or loader paths inherited. */
object ChildJvm {
    class Result(val exitCode: Int, val output: String)

    /** The test JVM's own class path (Surefire hides it behind a manifest-only jar otherwise). */
    val testClassPath: List<String> =
        (System.getProperty("surefire.test.class.path") ?: System.getProperty("java.class.path")).split(File.pathSeparator)

    fun run(classPath: List<String>, mainClass: String, vararg systemProperties: Pair<String, String>): Result {
        val builder = builder(classPath, mainClass, systemProperties.toList(), emptyList()).redirectErrorStream(true)
        val process = builder.start()
        process.outputStream.close()
        val output = process.inputStream.bufferedReader().readText()
        check(process.waitFor(60, TimeUnit.SECONDS)) { "child JVM did not finish" }
        return Result(process.exitValue(), output)
    }

    /**
     * Starts [mainClass] with [args] and [environment] added, and returns at once: read its
     * stdout, then wait for it. Its stderr goes to this JVM's.
     */
    fun start(classPath: List<String>, mainClass: String, args: List<String>, environment: Map<String, String>): Process {
        val builder = builder(classPath, mainClass, emptyList(), args).redirectError(ProcessBuilder.Redirect.INHERIT)
        builder.environment().putAll(environment)
        return builder.start().also { it.outputStream.close() }
    }

    private fun builder(
        classPath: List<String>,
        mainClass: String,
        systemProperties: List<Pair<String, String>>,
        args: List<String>,
    ): ProcessBuilder {
        val java = Path.of(System.getProperty("java.home"), "bin", "java").toString()
        val command = listOf(java, "-cp", classPath.joinToString(File.pathSeparator)) +
            systemProperties.map { (k, v) -> "-D$k=$v" } + mainClass + args
        val builder = ProcessBuilder(command)
        builder.environment().remove("LD_LIBRARY_PATH")
        builder.environment().remove("JAVA_TOOL_OPTIONS")
        return builder
    }
}
