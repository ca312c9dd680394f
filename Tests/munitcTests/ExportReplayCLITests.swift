import Foundation
import GraphIR
import Testing
import TestSupport

@Suite(.serialized) struct ExportReplayCLITests {
    static let tinyConfigText = """
        batch_size: 1
        weight_decay: 0.0001
        beta1: 0.5
        beta2: 0.999
        init: kaiming
        lr: 0.0001
        lr_policy: constant
        gan_w: 1
        recon_x_w: 10
        recon_s_w: 1
        recon_c_w: 1
        recon_x_cyc_w: 1
        vgg_w: 0
        max_iter: 10
        gen: {dim: 2, mlp_dim: 4, style_dim: 2, activ: relu, n_downsample: 1, n_res: 1, pad_type: reflect}
        dis: {dim: 2, norm: none, activ: lrelu, n_layer: 2, gan_type: nsgan, num_scales: 2, pad_type: reflect}
        input_dim_a: 3
        input_dim_b: 3
        crop_image_height: 32
        crop_image_width: 32
        num_workers: 2

        """

    @Test func exportsEveryGraphKindAsValidText() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("c.yaml")
        try Self.tinyConfigText.write(to: config, atomically: true, encoding: .utf8)
        for kind in ["dis-loss", "gen-loss", "dis-step", "gen-step", "translate"] {
            let out = dir.appendingPathComponent("\(kind).graph")
            let result = try CLI.run(["export", "--config", config.path, "--graph", kind, "-o", out.path])
            #expect(result.status == 0, "\(kind): \(result.stderr)")
            let dumped = try CLI.run(["dump", out.path])
            #expect(dumped.status == 0, "\(kind): \(dumped.stderr)")
            let graph = try parseGraph(String(contentsOf: out, encoding: .utf8))
            #expect(graph.outputs.count > 0)
            if kind.hasSuffix("loss") { #expect(graph.lossOutput != nil) }
        }
    }

    @Test func badConfigValuesNameTheKey() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("bad.yaml")
        try Self.tinyConfigText.replacingOccurrences(of: "activ: relu", with: "activ: swish")
            .write(to: config, atomically: true, encoding: .utf8)
        let result = try CLI.run(["export", "--config", config.path, "--graph", "gen-loss"])
        #expect(result.status == 1)
        #expect(result.stderr.contains(config.path))
        #expect(result.stderr.contains("gen.activ"))
        #expect(result.stderr.contains("swish"))
    }

    @Test func replayOfTheTinyRecordingPassesAndWritesTheRecordingsNames() throws {
        guard let config = SharedFolder.tinyConfig, let reference = SharedFolder.tinyReference else { return }
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("replay.safetensors")
        let arguments = ["replay", "--config", config.path, "--reference", reference.path, "-o", out.path]
        let badThreads = try CLI.run(arguments + ["--threads", "0"])
        #expect(badThreads.status != 0)
        #expect(badThreads.stderr.contains("--threads"))
        // The default backend is the LLVM one; the interpreter's replay is tested in TrainingTests.
        let result = try CLI.run(arguments + ["--threads", "2"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("parity: all rules hold"))
        let written = try SafetensorsFile.read(contentsOf: out).tensors
        #expect(written["iter2.loss.gen_total"]?.shape == [1])
        #expect(written["iter1.grad.dis.dis_a.cnns.0.0.conv.weight"] != nil)
        #expect(written["iter2.after.gen_b.mlp.model.2.fc.bias"] != nil)
    }

    /// Issue 17: a recording without one loss term and one activation fails before any step runs, naming both.
    @Test func replayOfAnIncompleteRecordingFailsNamingWhatIsMissing() throws {
        guard let config = SharedFolder.tinyConfig, let reference = SharedFolder.tinyReference else { return }
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var recording = try SafetensorsFile.read(contentsOf: reference).tensors
        recording["iter1.loss.gen_recon_x_a"] = nil
        recording["iter2.act.c_b"] = nil
        let gappy = dir.appendingPathComponent("gappy.safetensors")
        try SafetensorsFile(tensors: recording).write(to: gappy)
        let result = try CLI.run(["replay", "--config", config.path, "--reference", gappy.path,
                                  "-o", dir.appendingPathComponent("out.safetensors").path])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("\(gappy.path): error: "))
        #expect(result.stderr.contains("lacks 2 tensors") && result.stderr.contains("iter1.loss.gen_recon_x_a")
            && result.stderr.contains("iter2.act.c_b"), "\(result.stderr)")
    }
}
