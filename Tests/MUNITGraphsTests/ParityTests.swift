import Foundation
import GraphIR
import Testing
@testable import MUNITGraphs

/// The crucial check: the loss graphs, run on the interpreter with the PyTorch recording's parameters,
/// batches and noise, reproduce its losses (relative 1e-4) and intermediates (the README's activation rule).
@Suite struct ParityTests {
    @Test(.enabled(if: Fixtures.tinyReference != nil, "shared/reference/tiny/reference.safetensors is absent"))
    func disLossMatchesReference() throws {
        let reference = try #require(Fixtures.tinyReference)
        let graph = try buildMUNITGraph(.disLoss, config: Fixtures.tinyConfig())
        let outputs = try Interpreter(graph: graph).run(referenceArguments(for: graph, reference, step: "dis"))
        var worst = 0.0
        for name in ["dis_a", "dis_b", "dis_total"] {
            let ours = try #require(outputs["loss.\(name)"]).scalars[0]
            let theirs = try #require(reference["iter1.loss.\(name)"]).scalars[0]
            let error = Swift.abs(ours - theirs) / Swift.abs(theirs)
            worst = Swift.max(worst, error)
            #expect(error <= 1e-4, "loss.\(name): ours \(ours), reference \(theirs)")
        }
        print("dis-loss parity: worst relative loss error \(worst)")
    }

    @Test(.enabled(if: Fixtures.tinyReference != nil, "shared/reference/tiny/reference.safetensors is absent"))
    func genLossMatchesReference() throws {
        let reference = try #require(Fixtures.tinyReference)
        let graph = try buildMUNITGraph(.genLoss, config: Fixtures.tinyConfig())
        let outputs = try Interpreter(graph: graph).run(referenceArguments(for: graph, reference, step: "gen"))
        var worstLoss = 0.0
        for (key, ref) in reference where key.hasPrefix("iter1.loss.gen_") {
            let name = String(key.dropFirst("iter1.".count))
            let ours = try #require(outputs[name], "no output \(name)").scalars[0]
            let theirs = ref.scalars[0]
            let error = theirs == 0 ? Swift.abs(ours) : Swift.abs(ours - theirs) / Swift.abs(theirs)
            worstLoss = Swift.max(worstLoss, error)
            #expect(error <= 1e-4, "\(name): ours \(ours), reference \(theirs)")
        }
        // The README's activation rule; m = the median activation norm of the file.
        let m = median(reference.filter { $0.key.contains(".act.") }.map { l2Norm($0.value) })
        var worstActivation = 0.0
        for (key, ref) in reference where key.hasPrefix("iter1.act.") {
            let name = String(key.dropFirst("iter1.".count))
            let ours = try #require(outputs[name], "no output \(name)")
            #expect(ours.shape == ref.shape, "\(name): shape \(ours.shape), reference \(ref.shape)")
            guard ours.shape == ref.shape else { continue }
            let error = relativeDistance(ours, ref, scale: m)
            worstActivation = Swift.max(worstActivation, error)
            #expect(error <= 1e-3, "\(name): relative distance \(error)")
        }
        print("gen-loss parity: worst relative loss error \(worstLoss), worst activation distance \(worstActivation)")
    }
}
