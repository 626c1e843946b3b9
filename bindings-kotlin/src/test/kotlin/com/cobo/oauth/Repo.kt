package com.cobo.oauth

import org.json.JSONArray
import org.json.JSONObject
import java.nio.file.Files
import java.nio.file.Path

/** The repository's shared test files (vectors, fault matrix, UDL, README), found from its root. */
object Repo {
    /** Surefire and Failsafe set `cobo.repoRoot`; elsewhere the tests run from bindings-kotlin/. */
    val root: Path = Path.of(System.getProperty("cobo.repoRoot") ?: "..").toAbsolutePath().normalize()

    /** This Maven project's build directory (bindings-kotlin/target). */
    val buildDir: Path = root.resolve("bindings-kotlin/target")

    fun path(relative: String): Path = root.resolve(relative)

    fun text(relative: String): String = Files.readString(path(relative))

    fun json(relative: String): JSONObject = JSONObject(text(relative))

    /** The `cases` of tests/vectors/<name>.json. */
    fun vectors(name: String): List<JSONObject> = json("tests/vectors/$name.json").getJSONArray("cases").objects()
}

fun JSONArray.objects(): List<JSONObject> = (0 until length()).map { getJSONObject(it) }
