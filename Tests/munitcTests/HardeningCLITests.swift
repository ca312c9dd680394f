import Foundation
import GraphIR
import ImageIO
import Testing

/// Issue 17 as a user meets it: each hostile input ends in a message naming the key, file or tensor and an
/// exit status below 128, within seconds.
@Suite(.serialized) struct HardeningCLITests {
    /// A folder with the tiny training data and `tiny.yaml`, with `gen`/`dis` and other lines replaced.
    static func setUp(_ replacements: [String: String] = [:]) throws -> URL {
        let dir = try CLI.temporaryFolder()
        try TrainTranslateCLITests.makeData(dir.appendingPathComponent("data"))
        var yaml = TrainTranslateCLITests.tinyConfig(dataRoot: "data_root: data")
        for (old, new) in replacements { yaml = yaml.replacingOccurrences(of: old, with: new) }
        try yaml.write(to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
        return dir
    }

    /// Runs munitc, checking that it fails cleanly and quickly; returns standard error.
    static func failure(_ arguments: [String], in dir: URL) throws -> String {
        let start = Date()
        let result = try CLI.run(arguments, in: dir)
        #expect(result.status == 1, "\(arguments): status \(result.status), \(result.stderr)")
        #expect(Date().timeIntervalSince(start) < 20, "\(arguments) took \(Date().timeIntervalSince(start)) s")
        return result.stderr
    }

    @Test func impossibleConfigsNameTheirKey() throws {
        let cases: [(String, String, String)] = [
            ("n_downsample: 1", "n_downsample: 64", "key 'gen.n_downsample': 64 halves crop_image_height 16"),
            ("dis: {dim: 2", "dis: {dim: 9223372036854775807", "key 'dis.dim': 9223372036854775807 makes training need about"),
            ("n_layer: 2", "n_layer: 1000000", "key 'dis.n_layer': 1000000 is too many"),
            ("num_scales: 1", "num_scales: 2147483648", "key 'dis.num_scales': 2147483648 is too many"),
            ("n_res: 1", "n_res: 1000000", "key 'gen.n_res': 1000000 makes training need about"),
            ("gen: {dim: 2", "gen: {dim: 100000", "key 'gen.dim': 100000 makes training need about"),
            ("gen: {dim: 2", "gen: {dim: 2147483648", "key 'gen.dim': 2147483648 makes training need about"),
            ("new_size: 16", "new_size: 100000", "key 'new_size': 100000 makes training need about"),
            ("input_dim_b: 3", "input_dim_b: 4", "key 'input_dim_b' is 4, but the trainB and testB images are read as RGB"),
        ]
        for (old, new, expected) in cases {
            let dir = try Self.setUp([old: new])
            defer { try? FileManager.default.removeItem(at: dir) }
            let stderr = try Self.failure(["train", "--config", "tiny.yaml", "-o", "out", "--max-memory", "16G"], in: dir)
            #expect(stderr.hasPrefix("tiny.yaml"), "\(stderr)")
            #expect(stderr.contains(expected), "\(new): \(stderr)")
        }
    }

    @Test func deepYAMLAndTheMemoryLimit() throws {
        let dir = try Self.setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        try ("a: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000))
            .write(to: dir.appendingPathComponent("deep.yaml"), atomically: true, encoding: .utf8)
        let deep = try Self.failure(["train", "--config", "deep.yaml", "-o", "out"], in: dir)
        #expect(deep.hasPrefix("deep.yaml: error: nested more than 64 levels deep") && deep.contains("(line 1, column 67)"), "\(deep)")
        let small = try Self.failure(["train", "--config", "tiny.yaml", "-o", "out", "--max-memory", "1M"], in: dir)
        #expect(small.contains("training need about") && small.contains("--max-memory is 1 MiB"), "\(small)")
        let bad = try CLI.run(["train", "--config", "tiny.yaml", "--max-memory", "lots"], in: dir)
        #expect(bad.status == 64 && bad.stderr.contains("--max-memory 'lots' is not a memory size"), "\(bad.stderr)")
    }

    @Test func runCountsItsHostTensorsAgainstTheLimit() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
            graph big_relu {
              input %x : f32[64, 1024, 1024]
              %0 = relu(%x) : f32[64, 1024, 1024]
              output y = %0
            }
            """.write(to: dir.appendingPathComponent("relu.graph"), atomically: true, encoding: .utf8)
        // Buffers 0.5 GiB and float64 tensors 1 GiB: 1 GiB is not enough (the process peaks at 1.55 GiB).
        let stderr = try Self.failure(["run", "relu.graph", "--random-inputs", "--max-memory", "1G"], in: dir)
        #expect(stderr.contains("running 'big_relu' (arena 256 MiB, arguments 256 MiB, host tensors 1 GiB) needs about 1.5 GiB besides the "), "\(stderr)")
        #expect(stderr.contains(" MiB munitc holds already; --max-memory is 1 GiB"), "\(stderr)")
        let result = try CLI.run(["run", "relu.graph", "--random-inputs", "--backend", "interp", "--max-memory", "2G"], in: dir)
        #expect(result.status == 1 && result.stderr.contains("interpreting 'big_relu'"), "\(result.stderr)")
    }

    @Test func aSecondTrainingInTheSameFolderIsRefused() throws {
        let dir = try Self.setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        // This process plays the first run: it holds the lock and has written its id.
        let fd = open(out.appendingPathComponent(".munitc.lock").path, O_RDWR | O_CREAT, 0o644)
        #expect(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        _ = "\(getpid())\n".withCString { write(fd, $0, strlen($0)) }
        let stderr = try Self.failure(["train", "--config", "tiny.yaml", "-o", "out", "--max-iter", "1"], in: dir)
        #expect(stderr.contains("\(out.path): another munitc run (process \(getpid())) is using this output folder"), "\(stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("config.yaml").path), "nothing written")
        close(fd)
    }

    @Test func translateRefusesBadWeightsImagesAndFoldersAndNeedsOnlyGeneratorKeys() throws {
        let dir = try Self.setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trained = try CLI.run(["train", "--config", "tiny.yaml", "-o", "out", "--max-iter", "1", "--threads", "2"], in: dir)
        try #require(trained.status == 0, "\(trained.stderr)")
        let checkpoint = "out/checkpoints/gen_00000001.safetensors", input = "data/testA/0.png"
        // Every key translation does not read removed: it still translates.
        let kept = TrainTranslateCLITests.tinyConfig(dataRoot: "").split(separator: "\n").filter { line in
            ["gen:", "input_dim_a:", "input_dim_b:", "new_size:"].contains { line.hasPrefix($0) }
        }
        try kept.joined(separator: "\n").write(to: dir.appendingPathComponent("gen-only.yaml"), atomically: true, encoding: .utf8)
        let minimal = try CLI.run(["translate", "--config", "gen-only.yaml", "--checkpoint", checkpoint, "--input", input,
                                   "--num-style", "1", "-o", "tr"], in: dir)
        #expect(minimal.status == 0, "\(minimal.stderr)")
        // All-NaN weights.
        var tensors = try SafetensorsFile.read(contentsOf: dir.appendingPathComponent(checkpoint)).tensors
        for name in tensors.keys { tensors[name] = Tensor(tensors[name]!.type, repeating: .nan) }
        try SafetensorsFile(tensors: tensors).write(to: dir.appendingPathComponent("nan.safetensors"))
        let nan = try Self.failure(["translate", "--config", "tiny.yaml", "--checkpoint", "nan.safetensors", "--input", input, "-o", "tr"], in: dir)
        #expect(nan.contains("nan.safetensors: '") && nan.contains("' holds nan; a checkpoint's values must be finite"), "\(nan)")
        // A 100000×1 PNG of a few hundred bytes.
        try RGBImage(width: 100_000, height: 1).writePNG(to: dir.appendingPathComponent("wide.png"))
        let wide = try Self.failure(["translate", "--config", "tiny.yaml", "--checkpoint", checkpoint, "--input", "wide.png", "-o", "tr"], in: dir)
        #expect(wide.contains("wide.png: unsupported: resizing this 100000×1 image"), "\(wide)")
        // An output folder that cannot be made.
        try Data().write(to: dir.appendingPathComponent("file"))
        let folder = try Self.failure(["translate", "--config", "tiny.yaml", "--checkpoint", checkpoint, "--input", input, "-o", "file/tr"], in: dir)
        #expect(folder.contains("file/tr: cannot create the output folder (Not a directory)"), "\(folder)")
        let train = try Self.failure(["train", "--config", "tiny.yaml", "-o", "file/out"], in: dir)
        #expect(train.contains("file/out: cannot create the output folder (Not a directory)"), "\(train)")
    }
}
