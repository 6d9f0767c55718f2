// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "swift-vae",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "CPUBackend", targets: ["CPUBackend"]),
        .library(name: "OpenCLBackend", targets: ["OpenCLBackend"]),
        .library(name: "VAE", targets: ["VAE"]),
        .library(name: "VAEBench", targets: ["VAEBench"]),
        .library(name: "DataParallel", targets: ["DataParallel"]),
        .executable(name: "vae", targets: ["VAECommand"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .target(name: "Engine"),
        .target(name: "CPUVector", exclude: ["vector_kernels.inc"]),
        .target(name: "CPUBackend", dependencies: ["Engine", "CBLAS", "CPUVector"]),
        .target(
            name: "OpenCLBackend",
            dependencies: ["Engine", "COpenCL", "CZlib"],
            exclude: [],
            resources: [.embedInCode("Kernels")]
        ),
        .target(name: "VAE", dependencies: ["Engine", "CZlib", "CPNG"]),
        // MPI is loaded at run time (dlopen), so nothing here needs MPI to build.
        .target(name: "CMPILoader", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "DataParallel", dependencies: ["VAE", "CMPILoader"]),
        .target(name: "CPUPeak"),
        .target(name: "VAEBench", dependencies: ["Engine", "CPUBackend", "OpenCLBackend", "VAE", "CPUPeak"]),
        .executableTarget(
            name: "VAECommand",
            dependencies: [
                "VAE", "VAEBench", "CPUBackend", "OpenCLBackend", "DataParallel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "CPUBackend"]),
        .testTarget(name: "CPUBackendTests", dependencies: ["Engine", "CPUBackend", "CPUVector"]),
        .testTarget(name: "OpenCLBackendTests", dependencies: ["Engine", "CPUBackend", "OpenCLBackend", "VAEBench"]),
        // Imports only the public products, as a library user would.
        .testTarget(name: "LibraryUserTests", dependencies: ["VAE", "Engine", "CPUBackend", "OpenCLBackend"]),
        .testTarget(name: "VAETests", dependencies: ["VAE", "VAEBench", "DataParallel", "Engine", "CPUBackend", "OpenCLBackend", "CZlib", "CPNG"]),
    ],
    swiftLanguageModes: [.v6]
)
