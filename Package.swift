// swift-tools-version:6.1
import PackageDescription
import Foundation

/// Asks `llvm-config-19` (then `llvm-config`) for LLVM's include and library folders, so nothing is
/// hard-coded where a lookup can do; falls back to Debian's llvm-19 layout.
func llvmConfig(_ flag: String, fallback: String) -> String {
    for tool in ["llvm-config-19", "/usr/lib/llvm-19/bin/llvm-config", "llvm-config"] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool, flag]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { continue }
        process.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if process.terminationStatus == 0, !out.isEmpty { return out }
    }
    return fallback
}

let llvmInclude = llvmConfig("--includedir", fallback: "/usr/lib/llvm-19/include")
let llvmLib = llvmConfig("--libdir", fallback: "/usr/lib/llvm-19/lib")

let package = Package(
    name: "munitc",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "munitc", targets: ["munitc"]),
        .library(name: "GraphIR", targets: ["GraphIR"]),
        .library(name: "Passes", targets: ["Passes"]),
        .library(name: "LLVMBackend", targets: ["LLVMBackend"]),
        .library(name: "MUNITGraphs", targets: ["MUNITGraphs"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Distributed", targets: ["Distributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CLLVM", path: "Sources/CLLVM"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "GraphIR"),
        // Image decoding/encoding and the NVlabs data transforms.
        .target(name: "ImageIO", dependencies: ["GraphIR", "CJPEG", "CPNG"]),
        .target(name: "Passes", dependencies: ["GraphIR"]),
        .target(
            name: "LLVMBackend",
            dependencies: ["GraphIR", "CLLVM", "COpenBLAS"],
            swiftSettings: [.unsafeFlags(["-Xcc", "-I\(llvmInclude)"])],
            linkerSettings: [.unsafeFlags(["-L\(llvmLib)", "-Xlinker", "-rpath", "-Xlinker", llvmLib])]
        ),
        .target(name: "MUNITGraphs", dependencies: ["GraphIR", "Passes", "Yams"]),
        // The ranks of a data-parallel job over MPI (Open MPI), as a `Communicator` for the collectives.
        .target(name: "Distributed", dependencies: ["GraphIR", "CMPI"]),
        // Replay, training loop, data and checkpoints: what runs the compiled steps.
        .target(name: "Training", dependencies: ["GraphIR", "Passes", "MUNITGraphs", "LLVMBackend", "ImageIO"]),
        .executableTarget(
            name: "munitc",
            dependencies: [
                "GraphIR", "Passes", "LLVMBackend", "MUNITGraphs", "Training", "ImageIO", "Distributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.unsafeFlags(["-Xcc", "-I\(llvmInclude)"])]
        ),
        // What the test targets share: finding the optional `shared/` folder beside the repository.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "GraphIRTests", dependencies: ["GraphIR", "TestSupport"]),
        .testTarget(name: "PassesTests", dependencies: ["Passes", "TestSupport"]),
        .testTarget(name: "LLVMBackendTests", dependencies: ["LLVMBackend", "GraphIR", "Passes", "MUNITGraphs"],
                    swiftSettings: [.unsafeFlags(["-Xcc", "-I\(llvmInclude)"])]),
        .testTarget(name: "MUNITGraphsTests", dependencies: ["MUNITGraphs", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "ImageIO", "TestSupport"]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "TestSupport"]),
        .testTarget(name: "munitcTests", dependencies: ["munitc", "GraphIR", "ImageIO", "TestSupport"]),
    ]
)
