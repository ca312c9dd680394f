import Testing
@testable import GraphIR

/// Instance norm, AdaIN, MUNIT's layer norm and training-mode batch norm: hand-worked cases with exact
/// answers, comparisons with the statistics written out from the definitions, and shape-rule rejections.
@Suite struct NormalizationOpsTests: OpTestHelpers {
    // MARK: Helpers


    func tensor(_ shape: [Int], _ values: [Double]) -> Tensor { Tensor(.f64, shape: shape, scalars: values) }

    func random(_ shape: [Int], seed: UInt64, in range: ClosedRange<Double> = -1...1) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor.random(TensorType(.f64, shape), in: range, using: &rng)
    }

    func expectClose(_ a: Tensor, _ b: Tensor, tolerance: Double = 1e-12, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(a.shape == b.shape, sourceLocation: sourceLocation)
        guard a.shape == b.shape else { return }
        #expect(a.maxAbsDifference(b) <= tolerance, "max difference \(a.maxAbsDifference(b))", sourceLocation: sourceLocation)
    }

    /// Mean and biased variance, the latter as E[x²] − E[x]² (a different route than the kernels' two passes).
    func stats(_ values: [Double]) -> (mean: Double, variance: Double) {
        let count = Double(values.count)
        let mean = values.reduce(0, +) / count
        return (mean, values.map { $0 * $0 }.reduce(0, +) / count - mean * mean)
    }

    /// Instance norm by definition, with an optional per-(n, c) affine: `affine(n, c) = (scale, shift)`.
    func naiveInstanceNorm(_ x: Tensor, eps: Double, affine: (Int, Int) -> (Double, Double) = { _, _ in (1, 0) }) -> Tensor {
        let (n, c, size) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        var out: [Double] = []
        for i in 0..<n {
            for j in 0..<c {
                let plane = Array(x.scalars[(i * c + j) * size..<(i * c + j + 1) * size])
                let (mean, variance) = stats(plane)
                let (scale, shift) = affine(i, j)
                out += plane.map { ($0 - mean) / (variance + eps).squareRoot() * scale + shift }
            }
        }
        return tensor(x.shape, out)
    }

    // MARK: instance_norm and adain

    @Test func instanceNormHandWorked() throws {
        // Channel 0: [0, 0, 2, 2], mean 1, variance 1; channel 1: [3, 1, 3, 1], mean 2, variance 1.
        // With eps 3 the divisor is √4 = 2.
        let x = tensor([1, 2, 2, 2], [0, 0, 2, 2, 3, 1, 3, 1])
        let y = try run([x]) { b, v in try b.instanceNorm(v[0], eps: 3) }
        #expect(y == tensor([1, 2, 2, 2], [-0.5, -0.5, 0.5, 0.5, 0.5, -0.5, 0.5, -0.5]))
        // AdaIN then scales channel 0 by 3 and shifts it by 1, channel 1 by −1 and 0.5.
        let adain = try run([x, tensor([1, 2], [3, -1]), tensor([1, 2], [1, 0.5])]) { b, v in
            try b.adain(v[0], weight: v[1], bias: v[2], eps: 3)
        }
        #expect(adain == tensor([1, 2, 2, 2], [-0.5, -0.5, 2.5, 2.5, 0, 1, 0, 1]))
    }

    @Test func instanceNormAndAdainMatchDefinition() throws {
        let x = random([2, 3, 5, 7], seed: 1, in: -2...3)
        expectClose(try run([x]) { b, v in try b.instanceNorm(v[0]) }, naiveInstanceNorm(x, eps: 1e-5))
        // Per-sample weights: a mix-up of the sample and channel index would show here.
        let weight = random([2, 3], seed: 2), bias = random([2, 3], seed: 3)
        let y = try run([x, weight, bias]) { b, v in try b.adain(v[0], weight: v[1], bias: v[2], eps: 1e-3) }
        expectClose(y, naiveInstanceNorm(x, eps: 1e-3) { n, c in (weight.scalars[n * 3 + c], bias.scalars[n * 3 + c]) })
    }

    // MARK: layer_norm

    @Test func layerNormHandWorked() throws {
        // One sample, values [3, 3, 3, −1]: mean 2, deviations [1, 1, 1, −3], unbiased variance 12 / 3 = 4, std 2.
        // With eps 2 the divisor is std + eps = 4 (a biased std or eps under the root would not give 4).
        let x = tensor([1, 2, 1, 2], [3, 3, 3, -1])
        let y = try run([x, tensor([2], [2, 4]), tensor([2], [1, 0])]) { b, v in
            try b.layerNorm(v[0], gamma: v[1], beta: v[2], eps: 2)
        }
        // Normalised [0.25, 0.25, 0.25, −0.75]; channel 0 · 2 + 1, channel 1 · 4 + 0.
        #expect(y == tensor([1, 2, 1, 2], [1.5, 1.5, 1, -3]))
    }

    @Test(arguments: [[2, 3, 4, 5], [3, 4], [1, 2, 3, 1]])
    func layerNormMatchesDefinition(shape: [Int]) throws {
        let x = random(shape, seed: 4, in: -1...2)
        let c = shape[1]
        let gamma = random([c], seed: 5), beta = random([c], seed: 6)
        let y = try run([x, gamma, beta]) { b, v in try b.layerNorm(v[0], gamma: v[1], beta: v[2]) }
        let sampleSize = x.scalars.count / shape[0], channelSize = sampleSize / c
        var expected: [Double] = []
        for n in 0..<shape[0] {
            let sample = Array(x.scalars[n * sampleSize..<(n + 1) * sampleSize])
            let (mean, biased) = stats(sample)
            let std = (biased * Double(sampleSize) / Double(sampleSize - 1)).squareRoot()
            for (i, v) in sample.enumerated() {
                expected.append((v - mean) / (std + 1e-5) * gamma.scalars[i / channelSize] + beta.scalars[i / channelSize])
            }
        }
        expectClose(y, tensor(shape, expected))
    }

    // MARK: batch_norm

    @Test func batchNormHandWorked() throws {
        // x[n, c, 0, :]: n0c0 [0, 0], n0c1 [3, 3], n1c0 [2, 2], n1c1 [1, 1]. Channel 0 over (N, H, W) is
        // [0, 0, 2, 2] (mean 1), channel 1 is [3, 3, 1, 1] (mean 2); both have variance 1, so eps 3 divides by 2.
        let x = tensor([2, 2, 1, 2], [0, 0, 3, 3, 2, 2, 1, 1])
        let y = try run([x, tensor([2], [4, 2]), tensor([2], [-1, 10])]) { b, v in
            try b.batchNorm(v[0], gamma: v[1], beta: v[2], eps: 3)
        }
        #expect(y == tensor([2, 2, 1, 2], [-3, -3, 11, 11, 1, 1, 9, 9]))
    }

    @Test func batchNormMatchesDefinition() throws {
        let shape = [3, 2, 4, 5]
        let x = random(shape, seed: 7, in: -3...1), gamma = random([2], seed: 8), beta = random([2], seed: 9)
        let y = try run([x, gamma, beta]) { b, v in try b.batchNorm(v[0], gamma: v[1], beta: v[2]) }
        let size = 20
        var expected = x.scalars
        for c in 0..<2 {
            var indices: [Int] = []
            for n in 0..<3 { indices += Array((n * 2 + c) * size..<(n * 2 + c + 1) * size) }
            let (mean, variance) = stats(indices.map { x.scalars[$0] })
            for i in indices {
                expected[i] = (x.scalars[i] - mean) / (variance + 1e-5).squareRoot() * gamma.scalars[c] + beta.scalars[c]
            }
        }
        expectClose(y, tensor(shape, expected))
    }

    // MARK: dtypes and rejections

    @Test func float32AgreesWithFloat64() throws {
        let x = random([2, 4, 5, 6], seed: 10), p = random([4], seed: 11), q = random([4], seed: 12)
        let s = random([2, 4], seed: 13), t = random([2, 4], seed: 14)
        let builds: [(GraphBuilder, [ValueID]) throws -> ValueID] = [
            { b, v in try b.instanceNorm(v[0]) },
            { b, v in try b.adain(v[0], weight: v[3], bias: v[4]) },
            { b, v in try b.layerNorm(v[0], gamma: v[1], beta: v[2]) },
            { b, v in try b.batchNorm(v[0], gamma: v[1], beta: v[2]) },
        ]
        for build in builds {
            let y64 = try run([x, p, q, s, t].map { $0.converted(to: .f32).converted(to: .f64) }, build)
            let y32 = try run([x, p, q, s, t].map { $0.converted(to: .f32) }, build)
            #expect(y32.dtype == .f32)
            expectClose(y32.converted(to: .f64), y64, tolerance: 1e-5)
        }
    }

    @Test func rejectsBadShapesAndAttributes() {
        let x = TensorType(.f32, [2, 3, 4, 4]), c = TensorType(.f32, [3]), nc = TensorType(.f32, [2, 3])
        let eps = rejection([x]) { b, v in try b.instanceNorm(v[0], eps: 0) }
        #expect(eps.contains("eps"))
        rejection([x]) { b, v in try b.instanceNorm(v[0], eps: -1e-5) }
        rejection([TensorType(.f32, [3, 4, 4])]) { b, v in try b.instanceNorm(v[0]) }
        rejection([x]) { b, v in try b.apply(Ops.instanceNorm, v, ["momentum": .float(0.1)]) }
        rejection([x, c, c]) { b, v in try b.adain(v[0], weight: v[1], bias: v[2]) }
        rejection([x, nc, TensorType(.f32, [2, 4])]) { b, v in try b.adain(v[0], weight: v[1], bias: v[2]) }
        rejection([x, TensorType(.f64, [2, 3]), nc]) { b, v in try b.adain(v[0], weight: v[1], bias: v[2]) }
        rejection([x, TensorType(.f32, [4]), c]) { b, v in try b.layerNorm(v[0], gamma: v[1], beta: v[2]) }
        rejection([TensorType(.f32, [5]), TensorType(.f32, [5]), TensorType(.f32, [5])]) { b, v in
            try b.layerNorm(v[0], gamma: v[1], beta: v[2])
        }
        let single = rejection([TensorType(.f32, [2, 1]), TensorType(.f32, [1]), TensorType(.f32, [1])]) { b, v in
            try b.layerNorm(v[0], gamma: v[1], beta: v[2])
        }
        #expect(single.contains("unbiased"))
        rejection([x, c, TensorType(.f32, [3, 1])]) { b, v in try b.batchNorm(v[0], gamma: v[1], beta: v[2]) }
        rejection([TensorType(.f32, [1, 3, 1, 1]), c, c]) { b, v in try b.batchNorm(v[0], gamma: v[1], beta: v[2]) }
    }
}
