import Foundation
import GraphIR
import ImageIO
import MUNITGraphs
import Testing
@testable import Training

/// `Trainer` with NVlabs' UNIT_Trainer: its grids, losses and checkpoints, and the refusal to mix trainers.
extension TrainerTests {
    @Test func unitRunWritesThreeRowGridsItsLossesAndVAEGenCheckpoints() throws {
        let out = Self.folder("unit")
        defer { try? FileManager.default.removeItem(at: out) }
        let trainer = try Self.train(out, maxIterations: 2, trainer: .unit)
        // UNIT's sample: input, reconstruction, translation; two display images of 16×16.
        let grid = try RGBImage.decode(contentsOf: out.appendingPathComponent("images/gen_a2b_train_00000002.png"))
        #expect(grid.height == 3 * 16 && grid.width == 2 * 16)
        let html = try String(contentsOf: out.appendingPathComponent("images/index.html"), encoding: .utf8)
        #expect(html.contains("UNIT") && !html.contains("random styles"))
        let log = try String(contentsOf: out.appendingPathComponent("log.jsonl"), encoding: .utf8)
        for name in ["gen_recon_kl_a", "gen_cyc_x_b", "gen_recon_kl_cyc_bab", "dis_total"] { #expect(log.contains("\"\(name)\""), "\(name)") }
        #expect(!log.contains("gen_recon_s_a"))
        let file = try SafetensorsFile.read(contentsOf: out.appendingPathComponent("checkpoints/gen_00000002.safetensors"))
        #expect(file.metadata[CheckpointStore.trainerKey] == "UNIT")
        let expected = MUNITLayout(config: trainer.config).parameters.filter { $0.network == .genA || $0.network == .genB }.map {
            ($0.network == .genA ? "a." : "b.") + $0.name.dropFirst(6)
        }
        #expect(Set(file.tensors.keys) == Set(expected))
        #expect(file.tensors.keys.contains("a.enc.model.0.conv.weight") && file.tensors.keys.contains("b.dec.model.0.model.0.model.1.conv.bias"))
    }

    /// Resuming, or loading a generator checkpoint, with the other trainer names both trainers.
    @Test func checkpointsOfTheOtherTrainerAreRefusedNamingBoth() throws {
        let out = Self.folder("mixed")
        defer { try? FileManager.default.removeItem(at: out) }
        _ = try Self.train(out, maxIterations: 1, trainer: .unit)
        let names = { (error: TrainingError?) in
            error.map { $0.description.contains("made by the UNIT trainer") && $0.description.contains("uses the MUNIT trainer") } == true
        }
        let resumed = #expect(throws: TrainingError.self) { _ = try Self.train(out, maxIterations: 2, resume: true, trainer: .munit) }
        #expect(names(resumed), "\(String(describing: resumed))")
        let generators = out.appendingPathComponent("checkpoints/gen_00000001.safetensors")
        let loaded = #expect(throws: TrainingError.self) {
            _ = try CheckpointStore.loadGenerators(generators, config: Self.config(dataRoot: Self.data))
        }
        #expect(names(loaded) && loaded?.description.contains(generators.path) == true)
        #expect(try CheckpointStore.loadGenerators(generators, config: Self.config(dataRoot: Self.data, trainer: .unit)).count > 0)
    }
}
