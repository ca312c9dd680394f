import Foundation
import GraphIR
import ImageIO
import Testing
import TestSupport

/// `munitc train` and `munitc translate` as a user runs them, on compiled kernels.
@Suite(.serialized) struct TrainTranslateCLITests {
    static func tinyConfig(dataRoot: String, genDim: Int = 2, extra: String = "") -> String {
        """
        image_save_iter: 2
        image_display_iter: 2
        display_size: 2
        snapshot_save_iter: 2
        log_iter: 1
        max_iter: 100
        batch_size: 1
        weight_decay: 0.0001
        beta1: 0.5
        beta2: 0.999
        init: kaiming
        lr: 0.0001
        lr_policy: step
        step_size: 100000
        gamma: 0.5
        gan_w: 1
        recon_x_w: 10
        recon_s_w: 1
        recon_c_w: 1
        recon_x_cyc_w: 0
        vgg_w: 0
        gen: {dim: \(genDim), mlp_dim: 4, style_dim: 2, activ: relu, n_downsample: 1, n_res: 1, pad_type: reflect}
        dis: {dim: 2, norm: none, activ: lrelu, n_layer: 2, gan_type: lsgan, num_scales: 1, pad_type: reflect}
        input_dim_a: 3
        input_dim_b: 3
        new_size: 16
        crop_image_height: 16
        crop_image_width: 16
        \(dataRoot)
        \(extra)
        """
    }

    /// Three small images per folder (20×18, larger than the 16×16 crop after resizing), textured so
    /// that the networks see something.
    static func makeData(_ root: URL) throws {
        for split in ["trainA", "trainB", "testA", "testB"] {
            let folder = root.appendingPathComponent(split)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<3 {
                var image = RGBImage(width: 20, height: 18)
                for p in image.pixels.indices { image.pixels[p] = UInt8((p * (7 + i) + (split.hasSuffix("A") ? 0 : 90)) % 256) }
                try image.writePNG(to: folder.appendingPathComponent("\(i).png"))
            }
        }
    }

    @Test func trainTwiceGivesIdenticalCheckpointsAndTranslateWritesImages() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.makeData(dir.appendingPathComponent("data"))
        let config = dir.appendingPathComponent("tiny.yaml")
        try Self.tinyConfig(dataRoot: "data_root: data").write(to: config, atomically: true, encoding: .utf8)
        var outputs: [Data] = []
        for run in ["one", "two"] {
            let result = try CLI.run(["train", "--config", config.path, "-o", "out-\(run)", "--max-iter", "3", "--threads", "2"], in: dir)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("images/index.html"))
            outputs.append(try Data(contentsOf: dir.appendingPathComponent("out-\(run)/checkpoints/gen_00000003.safetensors")))
        }
        #expect(outputs[0] == outputs[1], "the same command twice gives byte-identical checkpoints")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out-one/config.yaml").path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out-one/images/gen_b2a_test_00000003.png").path))

        let checkpoint = dir.appendingPathComponent("out-one/checkpoints/gen_00000003.safetensors").path
        let input = dir.appendingPathComponent("data/testA/0.png").path
        let translated = try CLI.run(["translate", "--config", config.path, "--checkpoint", checkpoint, "--input", input,
                                      "--num-style", "2", "-o", "tr"], in: dir)
        #expect(translated.status == 0, "\(translated.stderr)")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("tr").path))
        #expect(files == ["input.png", "output000.png", "output001.png"])
        let styled = try CLI.run(["translate", "--config", config.path, "--checkpoint", checkpoint, "--input", input, "--b2a",
                                  "--style", dir.appendingPathComponent("data/testA/1.png").path, "-o", "styled"], in: dir)
        #expect(styled.status == 0, "\(styled.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("styled/output000.png").path))

        // A checkpoint of another configuration is refused, naming the file and the tensor.
        let other = dir.appendingPathComponent("other.yaml")
        try Self.tinyConfig(dataRoot: "data_root: data", genDim: 3).write(to: other, atomically: true, encoding: .utf8)
        let mismatch = try CLI.run(["translate", "--config", other.path, "--checkpoint", checkpoint, "--input", input, "-o", "x"], in: dir)
        #expect(mismatch.status == 1)
        #expect(mismatch.stderr.contains(checkpoint) && mismatch.stderr.contains("shape"), "\(mismatch.stderr)")
    }

    @Test func unwritableOutputAndMissingDataAreNamed() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("tiny.yaml")
        try Self.tinyConfig(dataRoot: "data_root: nowhere").write(to: config, atomically: true, encoding: .utf8)
        let missing = try CLI.run(["train", "--config", config.path, "-o", "out", "--max-iter", "1"], in: dir)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains(dir.appendingPathComponent("nowhere/trainA").path), "\(missing.stderr)")
        let unwritable = try CLI.run(["train", "--config", config.path, "-o", "/proc/munitc-out", "--max-iter", "1"], in: dir)
        #expect(unwritable.status == 1)
        #expect(unwritable.stderr.contains("/proc/munitc-out"), "\(unwritable.stderr)")
    }

    /// NVlabs' list-file configs on the real demo photos, when the shared folder is present.
    @Test func trainsOnTheDemoPhotosThroughListFiles() throws {
        guard let demo = SharedFolder.demoPhotos,
              FileManager.default.fileExists(atPath: demo.appendingPathComponent("list_trainA.txt").path) else { return }
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var lists = ""
        for split in ["train", "test"] {
            for domain in ["a", "b"] {
                lists += "data_folder_\(split)_\(domain): \(demo.path)/\(split)\(domain.uppercased())/\n"
                lists += "data_list_\(split)_\(domain): \(demo.path)/list_\(split)\(domain.uppercased()).txt\n"
            }
        }
        let config = dir.appendingPathComponent("demo.yaml")
        try Self.tinyConfig(dataRoot: lists).write(to: config, atomically: true, encoding: .utf8)
        let result = try CLI.run(["train", "--config", config.path, "-o", "out", "--max-iter", "2"], in: dir)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/images/gen_a2b_train_00000002.png").path))
    }
}
