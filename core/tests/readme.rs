//! README code that is a copy of code a test runs: the root README's Python quickstart
//! (and the file its walkthrough runs), and each binding's "Calling WaaS" snippets.

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
fn root_quickstart_is_the_tested_one() {
    let root = read("README.md");
    let copy = blocks(&root, "## From zero to a first token", "python");
    assert_eq!(copy.len(), 1, "one python block in the walkthrough section");
    let binding = read("bindings-python/README.md");
    let tested = blocks(&binding, "## Quickstart", "python");
    assert_eq!(Some(&copy[0]), tested.first(), "README.md's Python quickstart differs from bindings-python/README.md's");
    // The file the walkthrough runs.
    assert_eq!(copy[0], read("bindings-python/examples/quickstart.py"), "bindings-python/examples/quickstart.py differs");
}

/// Each binding's "Calling WaaS" snippets are files that a test runs.
#[test]
fn calling_waas_snippets_are_the_tested_ones() {
    for (lang, readme, heading, file) in [
        ("rust", "core/README.md", "## Calling WaaS", "core/tests/snippets/calling_waas.rs"),
        ("python", "bindings-python/README.md", "## Calling WaaS", "bindings-python/tests/calling_waas.py"),
        ("python", "bindings-python/README.md", "## Calling WaaS", "tests/interop/waas2_snippet.py"),
        ("kotlin", "bindings-kotlin/README.md", "## Calling WaaS", "bindings-kotlin/src/test/kotlin/com/cobo/oauth/quickstart/CallingWaas.kt"),
        ("swift", "bindings-swift/README.md", "## WaaS calls", "bindings-swift/Tests/CoboOAuthTests/CallingWaas.swift"),
    ] {
        let text = read(readme);
        let shown = blocks(&text, heading, lang);
        let tested = read(file);
        assert!(shown.contains(&tested.as_str()), "{readme}'s {heading} section must show {file} verbatim");
    }
}
