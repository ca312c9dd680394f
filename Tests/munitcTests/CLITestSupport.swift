import Foundation

/// Runs the built `munitc` executable (it sits beside the test bundle in the build products folder).
struct CLI {
    static let productsFolder: URL = {
        #if os(Linux)
        let runner = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        #else
        let runner = Bundle.main.bundleURL
        #endif
        return runner.deletingLastPathComponent()
    }()

    static var executable: URL { productsFolder.appendingPathComponent("munitc") }

    /// The repository root, from this file's path.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs munitc with `arguments` in `directory` and waits for it.
    static func run(_ arguments: [String], in directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? repository
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Drain standard error on another thread while reading standard output, so that neither pipe can
        // fill up and block the child.
        let errorBox = DataBox()
        let reader = Thread { errorBox.data = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        while !reader.isFinished { usleep(1000) }
        let errData = errorBox.data
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A fresh temporary folder, removed by the caller.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("munitc-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Carries bytes out of the reader thread.
final class DataBox: @unchecked Sendable {
    var data = Data()
}
