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
        val java = Path.of(System.getProperty("java.home"), "bin", "java").toString()
        val command = listOf(java, "-cp", classPath.joinToString(File.pathSeparator)) +
            systemProperties.map { (k, v) -> "-D$k=$v" } + mainClass
        val builder = ProcessBuilder(command).redirectErrorStream(true)
        builder.environment().remove("LD_LIBRARY_PATH")
        builder.environment().remove("JAVA_TOOL_OPTIONS")
        val process = builder.start()
        process.outputStream.close()
        val output = process.inputStream.bufferedReader().readText()
        check(process.waitFor(60, TimeUnit.SECONDS)) { "child JVM did not finish" }
        return Result(process.exitValue(), output)
    }
}
