// swift-tools-version:5.9
// The Swift part of `make bench` (bench/swift/run.sh): the Swift binding of cobo-oauth,
// built in release mode, against the shared mock server. A package of its own so that the
// binding's package gains no benchmark product; it depends on ../../bindings-swift, and
// run.sh copies both into the Swift chroot in the same layout.
import PackageDescription

let package = Package(
    name: "CoboOAuthBench",
    dependencies: [.package(name: "CoboOAuth", path: "../../bindings-swift")],
    targets: [
        .executableTarget(name: "CoboOAuthBench", dependencies: [.product(name: "CoboOAuth", package: "CoboOAuth")]),
    ]
)
