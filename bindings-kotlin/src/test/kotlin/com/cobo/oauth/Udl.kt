package com.cobo.oauth

/**
 * Just enough of a UDL parser for the parity check: what core/src/cobo_oauth.udl
 * declares, by UDL name (snake_case members).
 */
class Udl(source: String) {
    class Member(val name: String, val type: String)
    /**
     * [returns] is the UDL return type ("void" for none, "" for error variants and constructors);
     * [async]: declared `[Async]`, a Kotlin `suspend` function.
     */
    class Callable(val name: String, val args: List<Member>, val returns: String = "", val async: Boolean = false)
    /** [trait]: `[Trait]` or `[Trait, WithForeign]`, a Kotlin interface the caller may implement. */
    class Interface(val name: String, val constructors: List<Callable>, val methods: List<Callable>, val trait: Boolean)

    val functions = mutableListOf<Callable>()
    val interfaces = mutableListOf<Interface>()
    val dictionaries = mutableMapOf<String, List<Member>>()
    val enums = mutableMapOf<String, List<String>>()
    val errors = mutableMapOf<String, List<Callable>>()
    val customTypes = mutableListOf<String>()

    init {
        val text = source.lines().joinToString("\n") { it.substringBefore("//") }
        Regex("""\[Custom]\s*typedef\s+\S+\s+(\w+)\s*;""").findAll(text).forEach { customTypes += it.groupValues[1] }
        val block = Regex("""(\[[^\]]*]\s*)?(namespace|interface|dictionary|enum)\s+(\w+)\s*\{(.*?)}\s*;""", RegexOption.DOT_MATCHES_ALL)
        for (match in block.findAll(text)) {
            val (attributes, kind, name, body) = match.destructured
            val members = body.split(';').map { it.trim() }.filter { it.isNotEmpty() }
            when {
                kind == "namespace" -> functions += members.map { callable(it) }
                kind == "enum" -> enums[name] = Regex("\"(\\w+)\"").findAll(body).map { it.groupValues[1] }.toList()
                kind == "dictionary" -> dictionaries[name] = members.map { member(it.substringBefore('=').trim()) }
                attributes.contains("Error") -> errors[name] = members.map { callable(it) }
                else -> {
                    val (constructors, methods) = members.partition { stripAttributes(it).startsWith("constructor(") }
                    val trait = Regex("""\bTrait\b""").containsMatchIn(attributes)
                    interfaces += Interface(name, constructors.map { constructor(it) }, methods.map { callable(it) }, trait)
                }
            }
        }
    }

    private fun stripAttributes(declaration: String) = declaration.replace(Regex("""^\[[^\]]*]\s*"""), "")

    /** `[Name=x] constructor(...)` is named x; the primary constructor is named "new". */
    private fun constructor(declaration: String): Callable {
        val name = Regex("""Name=(\w+)""").find(declaration)?.groupValues?.get(1) ?: "new"
        return Callable(name, callable(declaration).args)
    }

    /** `[attrs] ReturnType name(Type a, Type b)` or an error variant `Name(Type a)`. */
    private fun callable(declaration: String): Callable {
        val signature = stripAttributes(declaration)
        val head = Regex("""^(.*?)(\w+)\s*\(""", RegexOption.DOT_MATCHES_ALL).find(signature)!!
        // Commas inside `<...>` (`record<string, string>`) belong to a type.
        val args = signature.substringAfter('(').substringBeforeLast(')').split(Regex(",(?![^<]*>)"))
            .map { it.trim() }.filter { it.isNotEmpty() }.map { member(it) }
        val async = Regex("""^\[[^\]]*\bAsync\b""").containsMatchIn(declaration)
        return Callable(head.groupValues[2], args, head.groupValues[1].trim(), async)
    }

    /** `Type name`, `Type? name = default` or `optional Type? name = null`; the type keeps its `?`. */
    private fun member(declaration: String): Member {
        val plain = declaration.substringBefore('=').trim().removePrefix("optional ").trim()
        val name = plain.substringAfterLast(' ')
        return Member(name, plain.substringBeforeLast(' ').trim())
    }
}

/** UniFFI's Kotlin names: `get_org_token` → `getOrgToken`. */
fun String.camelCase(): String =
    split('_').filter { it.isNotEmpty() }.mapIndexed { i, part -> if (i == 0) part else part.replaceFirstChar { it.uppercase() } }
        .joinToString("")
