import Foundation

/// Files from the `shared/` folder beside the repository; tests that use them skip when it is absent.
enum SharedFixtures {
    /// `<repo>/../shared`, found from this file's path so it works from any working directory.
    static let sharedFolder: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared")

    static func file(_ relativePath: String) -> URL? {
        let url = sharedFolder.appendingPathComponent(relativePath)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    static var opsReference: URL? { file("reference/ops.safetensors") }
    static var tinyReference: URL? { file("reference/tiny/reference.safetensors") }
}
