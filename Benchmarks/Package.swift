// swift-tools-version: 6.1
// Benchmarks live in their own package so that the root package builds without
// ordo-one/benchmark's plugins. Run from the repository root:
//   swift package --package-path Benchmarks benchmark
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder, which depends on where the repository was
// cloned; look it up instead of spelling it.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "Benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "VAEBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "VAEBench", package: root),
                .product(name: "Engine", package: root),
                .product(name: "CPUBackend", package: root),
                .product(name: "OpenCLBackend", package: root),
                .product(name: "VAE", package: root),
            ],
            path: "Benchmarks/VAEBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
