import Foundation
import GraphIR
import Testing
@testable import MUNITGraphs

@Suite struct InitializationTests {
    func std(_ t: Tensor) -> Double {
        let mean = t.scalars.reduce(0, +) / Double(t.scalars.count)
        return (t.scalars.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(t.scalars.count)).squareRoot()
    }

    @Test func everyParameterAndBufferIsInitialisedByItsRole() throws {
        let c = try Fixtures.tinyConfig(["gen.activ": "prelu", "dis.norm": "bn"])
        let layout = MUNITLayout(config: c)
        let tensors = initialMUNITParameters(config: c, seed: 7)
        #expect(tensors.count == layout.parameters.count + layout.buffers.count)
        for p in layout.parameters {
            let t = try #require(tensors[p.name])
            #expect(t.shape == p.shape && t.dtype == .f32)
            switch p.role {
            case .convolutionBias, .linearBias, .layerNormBeta, .batchNormBias: #expect(t.scalars.allSatisfy { $0 == 0 })
            case .preluSlope: #expect(t.scalars == [0.25])
            case .batchNormWeight: #expect(t.scalars.allSatisfy { $0 == 1 })
            case .layerNormGamma: #expect(t.scalars.allSatisfy { (0..<1).contains($0) })
            case .convolutionWeight, .linearWeight: #expect(std(t) > 0)
            }
        }
        for b in layout.buffers { #expect(tensors[b.name]?.scalars.allSatisfy { $0 == b.initialValue } == true) }
    }

    @Test func kaimingForGeneratorsGaussianForDiscriminators() throws {
        let c = try Fixtures.tinyConfig()
        let tensors = initialMUNITParameters(config: c, seed: 1)
        // [32, 32, 3, 3]: fan_in 288, std √(2/288) ≈ 0.083 (9216 samples: within a few percent).
        let w = try #require(tensors["gen_a.enc_content.model.3.model.0.model.0.conv.weight"])
        #expect(abs(std(w) / (2.0 / 288).squareRoot() - 1) < 0.05)
        let d = try #require(tensors["dis_b.cnns.0.2.conv.weight"])  // 8192 samples
        #expect(abs(std(d) / 0.02 - 1) < 0.05)
        #expect(initialMUNITParameters(config: c, seed: 1) == tensors, "deterministic from the seed")
        #expect(initialMUNITParameters(config: c, seed: 2)["gen_a.dec.model.2.conv.weight"] != tensors["gen_a.dec.model.2.conv.weight"])
    }

    @Test func gaussianAndXavierStandardDeviations() throws {
        var rng = SplitMix64(seed: 3)
        let shape = [64, 32, 3, 3]
        let gaussian = Tensor(TensorType(.f32, shape), scalars: initialWeight(shape: shape, .gaussian, using: &rng))
        #expect(abs(std(gaussian) / 0.02 - 1) < 0.03)
        // Xavier normal, gain √2: √2 · √(2 / (fan_in + fan_out)) with fans 288 and 576.
        let xavier = Tensor(TensorType(.f32, shape), scalars: initialWeight(shape: shape, .xavier, using: &rng))
        #expect(abs(std(xavier) / (2.0.squareRoot() * (2.0 / 864).squareRoot()) - 1) < 0.03)
        #expect(TensorType(.f32, [16, 4]).fans == (4, 16))
        #expect(TensorType(.f32, [8, 3, 7, 7]).fans == (147, 392))
    }

    @Test(arguments: [[16, 8, 4, 4], [128, 16], [8, 8], [3, 8, 7, 7]])
    func orthogonalWeightsHaveOrthonormalRowsOrColumnsTimesGain(_ shape: [Int]) throws {
        var rng = SplitMix64(seed: 11)
        let w = initialWeight(shape: shape, .orthogonal, using: &rng)
        let rows = shape[0], columns = w.count / rows
        // W Wᵀ = 2 I when rows ≤ columns, Wᵀ W = 2 I otherwise (gain √2).
        let (outer, inner) = rows <= columns ? (rows, columns) : (columns, rows)
        func element(_ i: Int, _ k: Int) -> Double { rows <= columns ? w[i * columns + k] : w[k * columns + i] }
        var worst = 0.0
        for i in 0..<outer {
            for j in 0..<outer {
                var dot = 0.0
                for k in 0..<inner { dot += element(i, k) * element(j, k) }
                worst = Swift.max(worst, abs(dot - (i == j ? 2 : 0)))
            }
        }
        #expect(worst < 1e-9, "\(shape): worst deviation from 2I \(worst)")
    }

    @Test func orthogonalInitialisationOfAWholeConfig() throws {
        let c = try Fixtures.tinyConfig(["init": "orthogonal"])
        let tensors = initialMUNITParameters(config: c, seed: 5)
        let w = try #require(tensors["gen_a.mlp.model.2.fc.weight"])  // [256, 16]: orthogonal columns
        var dot = 0.0
        for r in 0..<256 { dot += w.scalars[r * 16] * w.scalars[r * 16] }
        #expect(abs(dot - 2) < 1e-5)
        #expect(abs(std(try #require(tensors["dis_a.cnns.0.1.conv.weight"])) / 0.02 - 1) < 0.1)
    }
}
