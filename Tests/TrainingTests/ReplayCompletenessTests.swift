import Foundation
import GraphIR
import LLVMBackend
import MUNITGraphs
import Testing
@testable import Training
import TestSupport

/// A recording that lacks anything the step graphs produce (a loss term, a gradient, an activation, a
/// parameter after an iteration) must fail the replay, naming what is missing, before any step runs.
@Suite struct ReplayCompletenessTests {
    /// Two toy steps whose outputs name a loss, an activation and a gradient each.
    func toyReplay() -> Training.Replay {
        func step(_ name: String, act: Bool) -> Graph {
            let b = GraphBuilder(name: name)
            let w = b.parameter("\(name).w", TensorType(.f32, [2]), trainable: true)
            b.output("loss.\(name)_total", w)
            if act { b.output("act.\(name)_act", w) }
            b.output("grad.\(name).w", w)
            return b.graph
        }
        return Training.Replay(disStep: step("dis", act: false), genStep: step("gen", act: true), learningRate: { _ in 1e-4 })
    }

    func completeRecording(iterations: Int) -> [String: Tensor] {
        let t = Tensor(.f32, shape: [2], scalars: [1, 2])
        var recording = ["param.dis.w": t, "param.gen.w": t]
        for k in 1...iterations {
            for name in ["x_a", "loss.dis_total", "loss.gen_total", "act.gen_act", "grad.dis.dis.w", "grad.gen.gen.w",
                         "after.dis.w", "after.gen.w"] { recording["iter\(k).\(name)"] = t }
        }
        return recording
    }

    @Test func expectedNamesComeFromTheGraphsOutputs() {
        #expect(toyReplay().recordedNames(iteration: 2, parameters: ["gen.w", "dis.w"]) == [
            "iter2.loss.dis_total", "iter2.grad.dis.dis.w", "iter2.loss.gen_total", "iter2.act.gen_act",
            "iter2.grad.gen.gen.w", "iter2.after.dis.w", "iter2.after.gen.w",
        ])
    }

    @Test(arguments: ["iter1.loss.gen_total", "iter2.act.gen_act", "iter2.grad.dis.dis.w", "iter1.after.gen.w"])
    func aMissingQuantityFailsNamingIt(_ missing: String) {
        var recording = completeRecording(iterations: 2)
        recording[missing] = nil
        #expect {
            _ = try toyReplay().run(reference: recording)
        } throws: { error in
            "\(error)".contains("lacks 1 tensor") && "\(error)".contains(missing)
        }
    }

    /// The tiny MUNIT recording without one loss, one activation, one gradient and one update.
    @Test func theTinyRecordingWithGapsFailsNamingEachGap() throws {
        guard let configURL = SharedFolder.tinyConfig, let referenceURL = SharedFolder.tinyReference else { return }
        let config = try MUNITConfig.load(contentsOf: configURL)
        var recording = try SafetensorsFile.read(contentsOf: referenceURL).tensors
        let gaps = ["iter1.loss.gen_adv_a", "iter2.act.x_ab", "iter1.grad.gen.gen_a.dec.model.0.model.1.model.0.conv.bias",
                    "iter2.after.dis_b.cnns.0.0.conv.weight"]
        for gap in gaps { #expect(recording.removeValue(forKey: gap) != nil, "\(gap) is in the full recording") }
        let options = MUNITGraphOptions(batchSize: recording["iter1.x_a"]!.shape[0],
                                        height: config.cropImageHeight, width: config.cropImageWidth)
        let replay = Training.Replay(disStep: try buildMUNITGraph(.disStep, config: config, options: options),
                                     genStep: try buildMUNITGraph(.genStep, config: config, options: options),
                                     learningRate: { config.learningRate(iteration: $0) })
        #expect {
            _ = try replay.run(reference: recording)
        } throws: { error in
            gaps.allSatisfy { "\(error)".contains($0) } && "\(error)".contains("lacks 4 tensors")
        }
    }
}
