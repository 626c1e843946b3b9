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

/// The recipe of a Makefile target: its one command line.
fn make_recipe(target: &str) -> String {
    let makefile = read("Makefile");
    let start = makefile.find(&format!("\n{target}:")).unwrap_or_else(|| panic!("no make {target}"));
    let line = makefile[start + 1..].lines().nth(1).unwrap_or_else(|| panic!("make {target} has no recipe"));
    line.trim().to_owned()
}

/// A shell block's command lines, each without its trailing `# comment`.
fn commands(block: &str) -> Vec<String> {
    block.lines().map(|line| line.split(" #").next().unwrap_or("").trim().to_owned()).collect()
}

/// The Kotlin README's build lines are `make test-kotlin`'s recipe, and the same with `install`.
#[test]
fn kotlin_build_commands_are_the_makefile_recipe() {
    let text = read("bindings-kotlin/README.md");
    let shown = blocks(&text, "## Build and test", "sh");
    assert_eq!(shown.len(), 1, "one sh block under ## Build and test");
    let verify = make_recipe("test-kotlin");
    assert!(verify.ends_with(" verify"), "{verify}");
    let install = format!("{} install", verify.trim_end_matches(" verify"));
    assert_eq!(commands(shown[0]), [verify, install]);
}

/// The `<dependency>` a consumer adds is the coordinates the pom builds and installs.
#[test]
fn kotlin_dependency_is_the_poms_coordinates() {
    let text = read("bindings-kotlin/README.md");
    let shown = blocks(&text, "## Build and test", "xml");
    assert_eq!(shown.len(), 1, "one xml block under ## Build and test");
    let pom = read("bindings-kotlin/pom.xml");
    // The project's own coordinates: the first of each tag, indented once (no <parent>).
    assert!(!pom.contains("<parent>"));
    let tag = |xml: &str, name: &str, indent: &str| {
        let open = format!("\n{indent}<{name}>");
        let start = xml.find(&open).unwrap_or_else(|| panic!("no <{name}>")) + open.len();
        xml[start..xml[start..].find('<').unwrap() + start].to_owned()
    };
    for name in ["groupId", "artifactId", "version"] {
        assert_eq!(tag(shown[0], name, "  "), tag(&pom, name, "  "), "<{name}>");
    }
    assert_eq!(shown[0].lines().next(), Some("<dependency>"));
}

/// The Kotlin README's logging line is the call LoggingBackendTest runs (via LoggingProbe),
/// with and without SLF4J on the class path.
#[test]
fn kotlin_logging_line_is_what_the_probe_runs() {
    let text = read("bindings-kotlin/README.md");
    let shown = blocks(&text, "## Logging", "kotlin");
    assert_eq!(shown, ["CoboOAuthLogging.install() // SLF4J if the app has it, else java.util.logging\n"]);
    let probe = read("bindings-kotlin/src/test/kotlin/com/cobo/oauth/LoggingProbe.kt");
    assert!(probe.contains("= CoboOAuthLogging.install()\n"), "LoggingProbe.kt no longer calls CoboOAuthLogging.install()");
}

/// The Swift README's Package.swift lines name the package directory and the product
/// bindings-swift/Package.swift declares.
#[test]
fn swift_package_fragment_names_the_package_and_its_product() {
    let text = read("bindings-swift/README.md");
    let shown = blocks(&text, "## Quickstart", "swift");
    let fragment = shown.first().expect("a swift block under ## Quickstart");
    assert!(fragment.starts_with("// Package.swift of your app\n"), "{fragment}");
    // The clone is `cobo-oauth`, beside the app; the package is its bindings-swift directory.
    assert!(fragment.contains(r#".package(path: "../cobo-oauth/bindings-swift")"#), "{fragment}");
    assert!(fragment.contains(r#".product(name: "CoboOAuth", package: "bindings-swift")"#), "{fragment}");
    let package = read("bindings-swift/Package.swift");
    assert!(package.contains(r#".library(name: "CoboOAuth", targets: ["CoboOAuth"])"#), "Package.swift's product");
    assert!(package.contains("// swift-tools-version:5.9"));
    // generate.sh puts the library where the README's linker flags look: <repo>/target/release.
    assert!(text.contains("-Xlinker -L<repo>/target/release -Xlinker -rpath -Xlinker <repo>/target/release"));
    assert!(read("bindings-swift/scripts/generate.sh").contains("target/release"));
}

/// The Swift README's test line is `make test-swift`'s recipe.
#[test]
fn swift_test_command_is_the_makefile_recipe() {
    let text = read("bindings-swift/README.md");
    let shown = blocks(&text, "## Test", "sh");
    assert_eq!(shown.len(), 1, "one sh block under ## Test");
    assert_eq!(commands(shown[0]), [make_recipe("test-swift")]);
}

/// bench/README.md's `make bench` line: the target runs `bash bench/run.sh`, which reads BENCH_PARTS.
#[test]
fn bench_command_is_the_makefile_recipe() {
    let text = read("bench/README.md");
    let shown = blocks(&text, "# Benchmarks", "sh");
    assert_eq!(shown, ["make bench            # = bash bench/run.sh; BENCH_PARTS=\"rust python kotlin swift\" picks parts\n"]);
    assert_eq!(make_recipe("bench"), "bash bench/run.sh");
    assert!(read("bench/run.sh").contains(r#"PARTS="${BENCH_PARTS:-rust python kotlin swift}""#));
}
