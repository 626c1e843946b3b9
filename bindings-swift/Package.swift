// swift-tools-version:5.9
// The Swift binding of cobo-oauth. The FFI header, its module map and the Swift API
// (Sources/*/generated/) are generated from the freshly built core library by
// scripts/test.sh and never committed; see README.md.
import PackageDescription

let package = Package(
    name: "CoboOAuth",
    products: [
        .library(name: "CoboOAuth", targets: ["CoboOAuth"]),
    ],
    targets: [
        // The core library's C declarations: generated header + module.modulemap.
        // The target name is `ffi_module_name` in core/uniffi.toml.
        .systemLibrary(name: "CoboOAuthFFI", path: "Sources/CoboOAuthFFI/generated"),
        // The Swift API: generated/CoboOAuth.swift and the hand-written Secret type.
        .target(
            name: "CoboOAuth",
            dependencies: ["CoboOAuthFFI"],
            linkerSettings: [.linkedLibrary("cobo_oauth")]
        ),
        // The README's quickstart, verbatim; the tests build, check and run it.
        .executableTarget(name: "Quickstart", dependencies: ["CoboOAuth"]),
        // The README's async/await example, verbatim; run by the tests too.
        .executableTarget(name: "AsyncQuickstart", dependencies: ["CoboOAuth"]),
        // One of the processes CoordinationTests runs on a shared token store.
        .executableTarget(name: "CoordinationWorker", dependencies: ["CoboOAuth"]),
        .testTarget(name: "CoboOAuthTests", dependencies: ["CoboOAuth", "Quickstart", "AsyncQuickstart", "CoordinationWorker"]),
    ]
)
