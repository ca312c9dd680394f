import Foundation

/// The `shared/` folder beside the repository (PyTorch reference recordings, demo photos). It is optional:
/// tests that read it skip when it, or the file they need, is absent.
public enum SharedFolder {
    /// `<repo>/../shared`, found from this file's path so it works from any working directory.
    public static let url: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Tests/TestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // the repository
        .deletingLastPathComponent().appendingPathComponent("shared")

    /// The file or folder at `relativePath` inside the shared folder, or nil when it does not exist.
    public static func file(_ relativePath: String) -> URL? {
        let url = url.appendingPathComponent(relativePath)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// PyTorch float64 single-op cases: inputs, outputs, upstream gradients and input gradients.
    public static var opsReference: URL? { file("reference/ops.safetensors") }
    /// NVlabs/MUNIT's recorded iterations of the tiny config.
    public static var tinyReference: URL? { file("reference/tiny/reference.safetensors") }
    /// The tiny config those iterations ran with.
    public static var tinyConfig: URL? { file("reference/tiny/config.yaml") }
    /// NVlabs' `UNIT_Trainer`'s recorded iterations of its tiny config.
    public static var unitTinyReference: URL? { file("reference/unit_tiny/reference.safetensors") }
    /// The UNIT tiny config.
    public static var unitTinyConfig: URL? { file("reference/unit_tiny/config.yaml") }
    /// The tiny MUNIT recording with the perceptual loss on (`config.yaml`, `reference.safetensors` and the
    /// stand-in VGG16 weights in `models/`); its config's `vgg_model_path` is `.`, this folder.
    public static var tinyVGGFolder: URL? { file("reference/tiny_vgg/reference.safetensors")?.deletingLastPathComponent() }
    /// NVlabs' demo photos (edges2handbags), with list files.
    public static var demoPhotos: URL? { file("data/demo_edges2handbags") }
}
