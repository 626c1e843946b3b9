package com.cobo.oauth

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.DynamicTest.dynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import java.lang.reflect.Method
import java.lang.reflect.Modifier

/**
 * Every function, constructor, method, record field, enum variant and error variant
 * that core/src/cobo_oauth.udl declares is reachable from Kotlin under UniFFI's name,
 * in the package that core/uniffi.toml names.
 */
class UdlParityTest {
    private val udl = Udl(Repo.text("core/src/cobo_oauth.udl"))
    private val pkg = "com.cobo.oauth"

    private fun kotlinClass(name: String): Class<*> = Class.forName("$pkg.$name")

    /** Public methods, by Kotlin name (names of functions over unsigned types carry a `-hash` suffix). */
    private fun Class<*>.publicMethodNames(): Set<String> =
        methods.filter { Modifier.isPublic(it.modifiers) }.map(Method::getName).map { it.substringBefore('-') }.toSet()

    /**
     * The public method Kotlin names [name]: one over unsigned types carries a `-hash`
     * suffix, and one with default arguments has a synthetic `$default` twin.
     */
    private fun Class<*>.declared(name: String): Method =
        methods.filter { !it.isSynthetic }.single { it.name.substringBefore('-') == name }

    private fun reachable(what: String, check: () -> Unit): DynamicTest = dynamicTest(what, check)

    @Test
    fun `the parser found the whole UDL`() {
        assertEquals(12, udl.functions.size)
        assertEquals(
            setOf(
                "LogSink", "AppKey", "ResponseVerifier", "OAuthClient", "TokenStore", "CoordinatedTokenStore", "TokenManager", "StoreKey",
                "AsyncTokenManager", "AsyncOAuthClient",
            ),
            udl.interfaces.map { it.name }.toSet(),
        )
        // [Async]: the token methods of the two async interfaces (not AsyncTokenManager.cached_access_token), and nothing else.
        assertEquals(
            setOf(
                "AsyncTokenManager.access_token", "AsyncTokenManager.authorization_header", "AsyncTokenManager.token",
                "AsyncOAuthClient.get_org_token", "AsyncOAuthClient.refresh_org_token",
            ),
            udl.interfaces.flatMap { i -> (i.constructors + i.methods).filter { it.async }.map { "${i.name}.${it.name}" } }.toSet(),
        )
        assertEquals(listOf("LogSink", "TokenStore", "CoordinatedTokenStore"), udl.interfaces.filter { it.trait }.map { it.name })
        assertEquals(
            setOf(
                "LogRecord", "OrgToken", "StoredToken", "TokenManagerConfig", "VersionedToken", "TokenLease", "SignedRequest",
                "ClientConfig",
            ),
            udl.dictionaries.keys,
        )
        assertEquals(setOf("Environment", "Refusal", "LogLevel"), udl.enums.keys)
        assertEquals(listOf("CoboAuth", "AccessToken"), udl.enums.getValue("Refusal"))
        assertEquals(12, udl.errors.getValue("CoboOAuthError").size)
        assertEquals(listOf("Secret"), udl.customTypes)
    }

    @Test
    fun `the parser reads optional arguments, nullable types and return types`() {
        val manager = udl.interfaces.single { it.name == "TokenManager" }
        val args = manager.constructors.single().args
        assertEquals(listOf("client", "client_id", "store", "config"), args.map { it.name })
        assertEquals(listOf("OAuthClient", "string", "TokenStore?", "TokenManagerConfig?"), args.map { it.type })
        assertEquals("timestamp?", manager.methods.single { it.name == "refresh_token_expires_at" }.returns)
        val store = udl.interfaces.single { it.name == "TokenStore" }
        assertEquals(listOf("load", "save", "delete"), store.methods.map { it.name })
        assertEquals("StoredToken?", store.methods.single { it.name == "load" }.returns)
        assertEquals("TokenStore", udl.functions.single { it.name == "file_token_store" }.returns)
        assertEquals(listOf("LogSink?"), udl.functions.single { it.name == "set_log_sink" }.args.map { it.type })
        val invalidate = manager.methods.single { it.name == "invalidate" }
        assertEquals(listOf("string", "Secret"), invalidate.args.map { it.type })
        assertEquals("boolean", invalidate.returns)
        val coordinated = udl.interfaces.single { it.name == "CoordinatedTokenStore" }
        assertEquals(
            listOf("load_versioned", "save_if_version", "delete", "acquire_lease", "extend_lease", "release_lease"),
            coordinated.methods.map { it.name },
        )
        assertEquals(listOf("string", "StoredToken", "u64"), coordinated.methods.single { it.name == "save_if_version" }.args.map { it.type })
        assertEquals(listOf("Secret", "string", "u64", "StoreKey?"), udl.functions.single { it.name == "redis_token_store" }.args.map { it.type })
        assertEquals(listOf("StoredToken?", "u64"), udl.dictionaries.getValue("VersionedToken").map { it.type })
        val classify = udl.functions.single { it.name == "classify_refusal" }
        assertEquals(listOf("u16", "bytes"), classify.args.map { it.type })
        assertEquals("Refusal?", classify.returns)
        val required = udl.errors.getValue("CoboOAuthError").single { it.name == "AuthorizationRequired" }
        assertEquals(listOf("org_id", "status", "error", "error_description"), required.args.map { it.name })
    }

    /** A `[Trait, WithForeign]` interface: Kotlin code may implement it, so the trait is a plain interface. */
    @Test
    fun `TokenStore is an interface Kotlin can implement, and the core's stores are AutoCloseable`() {
        assertTrue(kotlinClass("TokenStore").isInterface)
        val impl = kotlinClass("TokenStoreImpl")
        assertTrue(kotlinClass("TokenStore").isAssignableFrom(impl))
        assertTrue(AutoCloseable::class.java.isAssignableFrom(impl))
        val facade = kotlinClass("Cobo_oauthKt")
        for (name in listOf("memoryTokenStore", "fileTokenStore", "redisTokenStore", "coordinatedTokenStore")) {
            assertEquals(kotlinClass("TokenStore"), facade.declared(name).returnType)
        }
        // What coordinatedTokenStore wraps is an interface too.
        assertTrue(kotlinClass("CoordinatedTokenStore").isInterface)
        assertTrue(kotlinClass("CoordinatedTokenStore").isAssignableFrom(kotlinClass("CoordinatedTokenStoreImpl")))
    }

    @TestFactory
    fun functions() = udl.functions.map { f ->
        reachable(f.name) {
            // Top-level functions of cobo_oauth.kt live in its file class.
            val facade = kotlinClass("Cobo_oauthKt")
            val method = facade.declared(f.name.camelCase())
            assertTrue(Modifier.isStatic(method.modifiers))
            assertEquals(f.args.map { kotlinType(it.type) }, method.parameterTypes.map { it.simpleName })
            assertEquals(kotlinType(f.returns), method.returnType.simpleName)
        }
    }

    @TestFactory
    fun interfaces() = udl.interfaces.flatMap { iface ->
        val cls = kotlinClass(iface.name)
        val constructors = iface.constructors.map { c ->
            reachable("${iface.name}.${c.name}") {
                if (c.name == "new") {
                    // A generated constructor takes the generated Uniffi<Name> class that the public <Name> subclasses.
                    val params = { ctor: java.lang.reflect.Constructor<*> -> ctor.parameterTypes.map { it.simpleName.removePrefix("Uniffi") } }
                    assertTrue(cls.constructors.any { ctor -> params(ctor) == c.args.map { kotlinType(it.type) } }) {
                        "no constructor ${iface.name}(${c.args.joinToString { it.type }})"
                    }
                } else {
                    val companion = kotlinClass("${iface.name}\$Companion")
                    val method = companion.methods.single { it.name == c.name.camelCase() }
                    assertEquals(cls, method.returnType)
                }
            }
        }
        val methods = iface.methods.map { m ->
            reachable("${iface.name}.${m.name}") {
                val method = cls.declared(m.name.camelCase())
                if (m.async) {
                    // A suspend fun compiles to one taking a Continuation of the result and returning Any?.
                    assertEquals(m.args.map { kotlinType(it.type) } + "Continuation", method.parameterTypes.map { it.simpleName })
                    val continuation = method.genericParameterTypes.last() as java.lang.reflect.ParameterizedType
                    // "? super com.cobo.oauth.Secret"
                    assertEquals(kotlinType(m.returns), continuation.actualTypeArguments.single().typeName.substringAfterLast('.'))
                } else {
                    assertEquals(m.args.map { kotlinType(it.type) }, method.parameterTypes.map { it.simpleName })
                    assertEquals(kotlinType(m.returns), method.returnType.simpleName)
                }
            }
        }
        // A trait's objects from the core are <Name>Impl; the trait itself is what Kotlin implements.
        val closeable = if (iface.trait) kotlinClass("${iface.name}Impl") else cls
        constructors + methods + reachable("${closeable.simpleName} is AutoCloseable") {
            assertTrue(AutoCloseable::class.java.isAssignableFrom(closeable))
        }
    }

    @TestFactory
    fun records() = udl.dictionaries.flatMap { (name, fields) ->
        val cls = kotlinClass(name)
        fields.map { field ->
            reachable("$name.${field.name}") {
                val property = field.name.camelCase()
                val getter = "get" + property.replaceFirstChar { it.uppercase() }
                assertTrue(getter in cls.publicMethodNames()) { "$name has no property $property" }
                assertEquals(kotlinType(field.type), cls.getDeclaredField(property).type.simpleName)
                // Immutable: a val has no setter.
                assertTrue(("set" + property.replaceFirstChar { it.uppercase() }) !in cls.publicMethodNames())
            }
        }
    }

    @TestFactory
    fun enums() = udl.enums.flatMap { (name, variants) ->
        val cls = kotlinClass(name)
        variants.map { variant ->
            reachable("$name.$variant") {
                // UniFFI's Kotlin name: "CoboAuth" → COBO_AUTH.
                val constant = variant.replace(Regex("([a-z0-9])([A-Z])"), "$1_$2").uppercase()
                assertTrue(cls.enumConstants.any { (it as Enum<*>).name == constant }) { "$name has no $constant" }
            }
        }
    }

    @TestFactory
    fun errors() = udl.errors.flatMap { (name, variants) ->
        val base = kotlinClass(name.replace(Regex("Error$"), "Exception"))
        // Sealed: Kotlin compiles it abstract; ExceptionFields.kt matches on it exhaustively.
        assertTrue(Modifier.isAbstract(base.modifiers) && Exception::class.java.isAssignableFrom(base))
        variants.map { variant ->
            reachable("$name.${variant.name}") {
                val cls = kotlinClass("${base.simpleName}\$${variant.name}")
                assertEquals(base, cls.superclass)
                for (field in variant.args) {
                    val getter = "get" + field.name.camelCase().replaceFirstChar { it.uppercase() }
                    assertTrue(getter in cls.publicMethodNames()) { "${cls.simpleName} has no property ${field.name.camelCase()}" }
                }
            }
        }
    }

    @TestFactory
    fun `custom types`() = udl.customTypes.map { name ->
        reachable(name) {
            val cls = kotlinClass(name)
            assertTrue(cls.declaredMethods.any { it.name == "toString" }) { "$name must redact its toString()" }
        }
    }

    /** The JVM type UniFFI gives a UDL type, by simple name (a nullable `T?` erases to T's class, boxed). */
    private fun kotlinType(udlType: String): String = when (udlType) {
        "void" -> "void"
        "boolean" -> "boolean"
        "string", "string?" -> "String"
        "bytes" -> "byte[]"
        "i64" -> "long"
        "u16" -> "short"
        "u32" -> "int"
        "u64" -> "long"
        "timestamp", "timestamp?" -> "Instant"
        "record<string, string>" -> "Map"
        else -> udlType.removeSuffix("?")
    }
}
