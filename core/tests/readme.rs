//! The root README's Python, Kotlin and Swift quickstarts are copies of the ones each
//! binding's tests run; this keeps the copies from drifting.

fn read(path: &str) -> String {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The fenced `lang` blocks of `section` (up to the next `## ` heading).
fn blocks<'a>(text: &'a str, heading: &str, lang: &str) -> Vec<&'a str> {
    let start = text.find(heading).unwrap_or_else(|| panic!("no {heading:?}")) + heading.len();
    let section = &text[start..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let fence = format!("```{lang}\n");
    section
        .split(fence.as_str())
        .skip(1)
        .map(|rest| &rest[..rest.find("```").unwrap_or_else(|| panic!("unclosed {lang} block"))])
        .collect()
}

#[test]
fn root_quickstarts_match_the_tested_ones() {
    let root = read("README.md");
    for (lang, heading, binding) in [
        ("python", "## Quickstart: Python", "bindings-python/README.md"),
        ("kotlin", "## Quickstart: Kotlin (JVM)", "bindings-kotlin/README.md"),
        ("swift", "## Quickstart: Swift", "bindings-swift/README.md"),
    ] {
        let tested = read(binding);
        let tested = blocks(&tested, "## Quickstart", lang).into_iter().max_by_key(|block| block.len());
        let copy = blocks(&root, heading, lang);
        assert_eq!(copy.len(), 1, "{heading}");
        assert_eq!(Some(copy[0]), tested, "README.md's {lang} quickstart differs from {binding}'s");
    }
}

/// The root README's async quickstarts are copies of the ones each binding's tests run.
#[test]
fn root_async_quickstarts_match_the_tested_ones() {
    let root = read("README.md");
    for (lang, binding, heading) in [
        ("python", "bindings-python/README.md", "## Async"),
        ("kotlin", "bindings-kotlin/README.md", "### Coroutines"),
        ("swift", "bindings-swift/README.md", "### Async/await"),
    ] {
        let text = read(binding);
        let tested = blocks(&text, heading, lang);
        assert_eq!(blocks(&root, "## Async quickstarts", lang), tested[..1], "README.md's async {lang} quickstart differs from {binding}'s");
    }
}

/// Each "Calling WaaS" snippet in the root README is a file that a test runs.
#[test]
fn calling_waas_snippets_are_the_tested_ones() {
    let root = read("README.md");
    let heading = "## Calling WaaS";
    let start = root.find(heading).unwrap_or_else(|| panic!("no {heading:?}")) + heading.len();
    let section = &root[start..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    for (lang, file) in [
        ("rust", "core/tests/snippets/calling_waas.rs"),
        ("python", "bindings-python/tests/calling_waas.py"),
        ("python", "tests/interop/waas2_snippet.py"),
        ("kotlin", "bindings-kotlin/src/test/kotlin/com/cobo/oauth/quickstart/CallingWaas.kt"),
        ("swift", "bindings-swift/Tests/CoboOAuthTests/CallingWaas.swift"),
    ] {
        let block = format!("```{lang}\n{}```", read(file));
        assert!(section.contains(&block), "README.md's {heading} section must show {file} verbatim");
    }
}
