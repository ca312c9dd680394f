import Foundation
import GraphIR
import ImageIO
import Testing
import TestSupport

/// `--trainer UNIT` as a user runs it, and the perceptual-loss recording replayed as its README says.
@Suite(.serialized) struct UNITCLITests {
    /// TrainTranslateCLITests' tiny config for UNIT: UNIT's loss weights instead of MUNIT's own keys.
    static func unitConfig(dataRoot: String) -> String {
        TrainTranslateCLITests.tinyConfig(dataRoot: dataRoot)
            .replacingOccurrences(of: "recon_s_w: 1\nrecon_c_w: 1\nrecon_x_cyc_w: 0", with: "recon_kl_w: 0.01\nrecon_kl_cyc_w: 0.01\nrecon_x_cyc_w: 10")
            .replacingOccurrences(of: "mlp_dim: 4, style_dim: 2, ", with: "")
    }

    @Test func trainResumeAndTranslateWithUNIT() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // NVlabs' demo photos when the shared folder is there, else generated images.
        let data: String
        if let demo = SharedFolder.demoPhotos { data = "data_root: \(demo.path)" } else {
            try TrainTranslateCLITests.makeData(dir.appendingPathComponent("data"))
            data = "data_root: data"
        }
        let config = dir.appendingPathComponent("unit.yaml")
        try Self.unitConfig(dataRoot: data).write(to: config, atomically: true, encoding: .utf8)
        let train = ["train", "--trainer", "UNIT", "--config", config.path, "--threads", "2"]
        let straight = try CLI.run(train + ["-o", "straight", "--max-iter", "4"], in: dir)
        #expect(straight.status == 0, "\(straight.stderr)")
        #expect(!straight.stderr.contains("warning"), "a UNIT config without MUNIT's keys: \(straight.stderr)")
        _ = try CLI.run(train + ["-o", "resumed", "--max-iter", "2"], in: dir)
        let resumed = try CLI.run(train + ["-o", "resumed", "--max-iter", "4", "--resume"], in: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        for file in ["checkpoints/gen_00000004.safetensors", "checkpoints/dis_00000004.safetensors", "checkpoints/optimizer.safetensors",
                     "log.jsonl", "images/gen_b2a_test_00000004.png"] {
            let a = FileManager.default.contents(atPath: dir.appendingPathComponent("straight/\(file)").path)
            #expect(a != nil && a == FileManager.default.contents(atPath: dir.appendingPathComponent("resumed/\(file)").path), "\(file)")
        }
        let grid = try RGBImage.decode(contentsOf: dir.appendingPathComponent("straight/images/gen_a2b_train_00000004.png"))
        #expect(grid.height == 3 * 16, "input, reconstruction, translation")

        // A MUNIT run resumed from it names both trainers (the config has MUNIT's keys too).
        let both = dir.appendingPathComponent("both.yaml")
        try (Self.unitConfig(dataRoot: data) + "\nrecon_s_w: 1\nrecon_c_w: 1\n")
            .replacingOccurrences(of: "gen: {", with: "gen: {mlp_dim: 4, style_dim: 2, ").write(to: both, atomically: true, encoding: .utf8)
        let mixed = try CLI.run(["train", "--config", both.path, "-o", "straight", "--max-iter", "5", "--resume"], in: dir)
        #expect(mixed.status == 1 && mixed.stderr.contains("UNIT trainer") && mixed.stderr.contains("MUNIT trainer"), "\(mixed.stderr)")

        let checkpoint = dir.appendingPathComponent("straight/checkpoints/gen_00000004.safetensors").path
        let input = dir.appendingPathComponent("straight/images/gen_a2b_train_current.png").path
        let translate = ["translate", "--trainer", "UNIT", "--config", config.path, "--checkpoint", checkpoint, "--input", input]
        let translated = try CLI.run(translate + ["-o", "tr"], in: dir)
        #expect(translated.status == 0, "\(translated.stderr)")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("tr").path)) == ["input.png", "output.png"])
        for option in [["--num-style", "2"], ["--style", input]] {
            let refused = try CLI.run(translate + option + ["-o", "x"], in: dir)
            #expect(refused.status != 0 && refused.stderr.contains(option[0]) && refused.stderr.contains("no style"), "\(refused.stderr)")
        }
        let asMUNIT = try CLI.run(["translate", "--config", both.path, "--checkpoint", checkpoint, "--input", input, "-o", "m"], in: dir)
        #expect(asMUNIT.status == 1 && asMUNIT.stderr.contains("made by the UNIT trainer"), "\(asMUNIT.stderr)")
    }

    @Test func exportsEveryUNITGraphAndNamesMissingKeys() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("unit.yaml")
        try Self.unitConfig(dataRoot: "").write(to: config, atomically: true, encoding: .utf8)
        for kind in ["dis-loss", "gen-loss", "dis-step", "gen-step", "translate"] {
            let out = dir.appendingPathComponent("\(kind).graph")
            let result = try CLI.run(["export", "--trainer", "UNIT", "--config", config.path, "--graph", kind, "-o", out.path])
            #expect(result.status == 0, "\(kind): \(result.stderr)")
            let graph = try parseGraph(String(contentsOf: out, encoding: .utf8))
            #expect(graph.name.hasPrefix("unit_"), "\(graph.name)")
            #expect(!graph.arguments.contains { $0.name.contains("enc_style") || $0.name.hasPrefix("s_") })
        }
        let asMUNIT = try CLI.run(["export", "--config", config.path, "--graph", "gen-loss"])
        #expect(asMUNIT.status == 1 && asMUNIT.stderr.contains("recon_s_w") && asMUNIT.stderr.contains("MUNIT needs it"), "\(asMUNIT.stderr)")
        let badTrainer = try CLI.run(["export", "--trainer", "CycleGAN", "--config", config.path, "--graph", "gen-loss"])
        #expect(badTrainer.status != 0 && badTrainer.stderr.contains("UNIT"), "\(badTrainer.stderr)")
    }

    /// vgg_w > 0 without the weights: the error names vgg_model_path and the file looked for.
    @Test func missingVGGWeightsNameTheKeyAndTheFile() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("vgg.yaml")
        try TrainTranslateCLITests.tinyConfig(dataRoot: "vgg_model_path: weights").replacingOccurrences(of: "vgg_w: 0", with: "vgg_w: 1")
            .write(to: config, atomically: true, encoding: .utf8)
        let result = try CLI.run(["export", "--config", config.path, "--graph", "gen-step"], in: dir)
        #expect(result.status == 1)
        #expect(result.stderr.contains("vgg_model_path") && result.stderr.contains(dir.appendingPathComponent("weights/models/vgg16.safetensors").path),
                "\(result.stderr)")
        #expect(try CLI.run(["export", "--config", config.path, "--graph", "dis-step"], in: dir).status == 0, "the dis step has no VGG")
    }

    @Test func unitReplayHoldsEveryParityRule() throws {
        guard let config = SharedFolder.unitTinyConfig, let reference = SharedFolder.unitTinyReference else { return }
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("replay.safetensors")
        let arguments = ["replay", "--trainer", "UNIT", "--config", config.path, "--reference", reference.path, "-o", out.path, "--threads", "2"]
        let result = try CLI.run(arguments)
        #expect(result.status == 0 && result.stdout.contains("parity: all rules hold"), "\(result.stdout)\(result.stderr)")
        let written = try SafetensorsFile.read(contentsOf: out).tensors
        #expect(written["iter2.loss.gen_recon_kl_cyc_bab"]?.shape == [1])
        #expect(written["iter1.act.h_a_recon"] != nil && written["iter2.after.gen_b.dec.model.4.norm.gamma"] != nil)
        // The recording's metadata says UNIT; replaying it as MUNIT is refused before anything runs.
        let both = dir.appendingPathComponent("both.yaml")
        try (String(contentsOf: config, encoding: .utf8) + "\nrecon_s_w: 1\nrecon_c_w: 1\n")
            .replacingOccurrences(of: "gen:\n", with: "gen:\n  mlp_dim: 4\n  style_dim: 2\n").write(to: both, atomically: true, encoding: .utf8)
        let asMUNIT = try CLI.run(["replay", "--config", both.path, "--reference", reference.path, "-o", out.path])
        #expect(asMUNIT.status == 1 && asMUNIT.stderr.contains("UNIT trainer") && asMUNIT.stderr.contains("--trainer UNIT"), "\(asMUNIT.stderr)")
    }

    /// shared/reference/README.md: run from inside tiny_vgg/, so that `vgg_model_path: .` finds models/.
    @Test func perceptualLossReplayRunFromItsFolderHoldsEveryParityRule() throws {
        guard let folder = SharedFolder.tinyVGGFolder else { return }
        let out = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: out) }
        let result = try CLI.run(["replay", "--config", "config.yaml", "--reference", "reference.safetensors",
                                  "-o", out.appendingPathComponent("r.safetensors").path, "--threads", "2"], in: folder)
        #expect(result.status == 0 && result.stdout.contains("parity: all rules hold"), "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("losses: 32/32 hold"), "\(result.stdout)")
    }

    @Test func benchRunsUNIT() throws {
        let result = try CLI.run(["bench", "--trainer", "UNIT", "--size", "16", "--iters", "1", "--threads", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("UNIT training iteration") && result.stdout.contains("unit_gen_step"), "\(result.stdout)")
    }
}
