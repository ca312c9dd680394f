import Testing
import GraphIR
@testable import Training

@Suite struct ParityRulesTests {
    let rules = ParityRules()
    func t(_ values: [Double]) -> Tensor { Tensor(.f32, shape: [values.count], scalars: values) }

    @Test func lossesUseRelativeErrorAndZeroForSwitchedOffTerms() {
        #expect(rules.checkLoss("a", ours: t([1.00005]), reference: t([1])).passed)
        #expect(!rules.checkLoss("a", ours: t([1.0002]), reference: t([1])).passed)
        #expect(rules.checkLoss("off", ours: t([0]), reference: t([0])).passed)
        #expect(!rules.checkLoss("off", ours: t([0.1]), reference: t([0])).passed)
    }

    @Test func tensorsUseTheNormalisedDistanceWithAFloor() {
        let reference = t([3, 4])  // norm 5
        #expect(rules.checkTensor(.gradient, "g", ours: t([3.03, 4]), reference: reference, scale: 5).passed)
        #expect(!rules.checkTensor(.gradient, "g", ours: t([3.1, 4]), reference: reference, scale: 5).passed)
        #expect(!rules.checkTensor(.activation, "a", ours: t([3.03, 4]), reference: reference, scale: 5).passed)
        // Tiny but non-null reference: the floor 1e-3·m keeps rounding noise from failing it.
        let tiny = t([1e-4, 0])
        #expect(rules.checkTensor(.gradient, "bias", ours: t([1.05e-4, 0]), reference: tiny, scale: 1).passed)
        #expect(!rules.checkTensor(.gradient, "g", ours: t([1, 2, 3]), reference: reference, scale: 5).passed, "shape mismatch")
    }

    @Test func nullReferenceTensorsNeedANearZeroGradient() {
        let null = t([1e-7, 0])  // below 1e-5·m for m = 1
        #expect(rules.checkTensor(.gradient, "b", ours: t([5e-5, 0]), reference: null, scale: 1).passed)
        #expect(!rules.checkTensor(.gradient, "b", ours: t([2e-4, 0]), reference: null, scale: 1).passed)
    }

    @Test func updatesAllowATinyShareOfOutliersAndSkipNullTensors() {
        let n = 2000
        let before = ["w": Tensor(TensorType(.f32, [n]), repeating: 0), "b": Tensor(TensorType(.f32, [2]), repeating: 0)]
        let reference = ["w": Tensor(TensorType(.f32, [n]), repeating: -1e-4), "b": Tensor(TensorType(.f32, [2]), repeating: 1e-4)]
        var oursScalars = [Double](repeating: -1e-4, count: n)
        oursScalars[0] = 1e-4  // one outlier in 2000: 0.05% ≤ 0.1%
        var ours = ["w": Tensor(.f32, shape: [n], scalars: oursScalars), "b": Tensor(TensorType(.f32, [2]), repeating: -1e-4)]
        let lr = 1e-4
        #expect(rules.checkUpdates(iteration: 1, before: before, ours: ours, reference: reference, learningRate: lr, skipped: ["b"]).passed)
        #expect(!rules.checkUpdates(iteration: 1, before: before, ours: ours, reference: reference, learningRate: lr, skipped: []).passed)
        oursScalars[1] = 1e-4
        oursScalars[2] = 1e-4
        ours["w"] = Tensor(.f32, shape: [n], scalars: oursScalars)
        #expect(!rules.checkUpdates(iteration: 1, before: before, ours: ours, reference: reference, learningRate: lr, skipped: ["b"]).passed)
    }
}
