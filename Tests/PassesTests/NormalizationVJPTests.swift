import Testing
@testable import GraphIR
@testable import Passes

/// VJP rules of instance norm, AdaIN, MUNIT's layer norm and training-mode batch norm: finite-difference
/// gradient checks with respect to x and the affine operands, the backward ops' kernels against numerical
/// Jacobians of the forward kernels, PyTorch's conventions at σ = 0, and PyTorch's float64 gradients.
@Suite struct NormalizationVJPTests {
    // MARK: Gradient checks

    @Test func instanceNormGradcheck() throws {
        for shape in [[2, 3, 4, 5], [1, 2, 3, 1], [2, 1, 5, 3]] {
            try VJPCheck.gradcheck("instance_norm \(shape)", [shape]) { b, p in try b.instanceNorm(p[0]) }
        }
        // A large eps relative to the variance: its place inside the square root matters.
        let flat = VJPCheck.random([2, 2, 3, 3], seed: 1, in: -0.1...0.1)
        try VJPCheck.gradcheck("instance_norm eps 0.01", [[2, 2, 3, 3]], values: [0: flat]) { b, p in
            try b.instanceNorm(p[0], eps: 0.01)
        }
    }

    @Test func adainGradcheck() throws {
        for (shape, eps) in [([2, 3, 4, 5], 1e-5), ([3, 2, 3, 2], 0.05)] {
            let nc = Array(shape.prefix(2))
            try VJPCheck.gradcheck("adain \(shape) eps \(eps)", [shape, nc, nc]) { b, p in
                try b.adain(p[0], weight: p[1], bias: p[2], eps: eps)
            }
        }
    }

    @Test func layerNormGradcheck() throws {
        for shape in [[2, 3, 4, 5], [3, 4], [1, 2, 3, 1], [2, 2, 3]] {
            try VJPCheck.gradcheck("layer_norm \(shape)", [shape, [shape[1]], [shape[1]]]) { b, p in
                try b.layerNorm(p[0], gamma: p[1], beta: p[2])
            }
        }
        // eps comparable to σ: eps added to the std (not under a square root) is what this checks.
        let flat = VJPCheck.random([2, 2, 3, 3], seed: 2, in: -0.1...0.1)
        try VJPCheck.gradcheck("layer_norm eps 0.05", [[2, 2, 3, 3], [2], [2]], values: [0: flat]) { b, p in
            try b.layerNorm(p[0], gamma: p[1], beta: p[2], eps: 0.05)
        }
    }

    @Test func batchNormGradcheck() throws {
        for (shape, eps) in [([3, 2, 3, 4], 1e-5), ([2, 3, 1, 1], 1e-5), ([2, 2, 3, 2], 0.1)] {
            try VJPCheck.gradcheck("batch_norm \(shape) eps \(eps)", [shape, [shape[1]], [shape[1]]]) { b, p in
                try b.batchNorm(p[0], gamma: p[1], beta: p[2], eps: eps)
            }
        }
    }

    @Test func normChainGradcheck() throws {
        // Two norms in a row, and a value used by two norms: gradients are summed through backward ops.
        try VJPCheck.gradcheck("instance_norm → layer_norm + batch_norm", [[2, 2, 3, 4], [2], [2], [2], [2]]) { b, p in
            let x = try b.instanceNorm(b.mul(p[0], p[0]))
            return try b.add(b.layerNorm(x, gamma: p[1], beta: p[2]), b.batchNorm(x, gamma: p[3], beta: p[4]))
        }
    }

    // MARK: Backward kernels against numerical Jacobians

    /// Σ_i gy_i · ∂f(x)_i/∂x_j for every j by central differences of the forward kernel alone, f = `op` applied
    /// to x (and `extra` operands), with attributes `attrs`.
    func numericVJP(_ op: OpDefinition, _ x: Tensor, extra: [Tensor] = [], _ attrs: Attributes, gy: Tensor) -> [Double] {
        let f = { (x: Tensor) in op.kernel([x] + extra, attrs, [x.type])[0] }
        return x.scalars.indices.map { j in
            let h = 1e-6
            var plus = x, minus = x
            plus.scalars[j] += h
            minus.scalars[j] -= h
            return (VJPCheck.dot(f(plus), gy) - VJPCheck.dot(f(minus), gy)) / (2 * h)
        }
    }

    func expectClose(_ ours: Tensor, _ expected: [Double], _ label: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let scale = Swift.max(expected.map(Swift.abs).max() ?? 0, 1e-12)
        let error = zip(ours.scalars, expected).map { Swift.abs($0 - $1) }.max() ?? 0
        #expect(error <= 1e-7 * scale, "\(label): error \(error) at scale \(scale)", sourceLocation: sourceLocation)
    }

    @Test func instanceNormBackwardMatchesNumericalJacobian() throws {
        for (shape, eps) in [([2, 3, 4, 5], 1e-5), ([1, 2, 2, 3], 0.3)] {
            let x = VJPCheck.random(shape, seed: 3, in: -2...1), gy = VJPCheck.random(shape, seed: 4)
            let gx = try VJPCheck.run([x, gy]) { b, v in try b.instanceNormBackward(v[0], v[1], eps: eps) }
            expectClose(gx, numericVJP(Ops.instanceNorm, x, ["eps": .float(eps)], gy: gy), "instance_norm_backward \(shape)")
        }
    }

    @Test func layerNormBackwardMatchesNumericalJacobian() throws {
        for (shape, eps) in [([2, 3, 4, 5], 1e-5), ([3, 4], 0.2), ([2, 1, 3, 1], 1e-5)] {
            let x = VJPCheck.random(shape, seed: 5, in: -1...2), gy = VJPCheck.random(shape, seed: 6)
            let c = shape[1]
            let unit = [Tensor(TensorType(.f64, [c]), repeating: 1), Tensor.zeros(TensorType(.f64, [c]))]
            let gx = try VJPCheck.run([x, gy]) { b, v in try b.layerNormBackward(v[0], v[1], eps: eps) }
            expectClose(gx, numericVJP(Ops.layerNorm, x, extra: unit, ["eps": .float(eps)], gy: gy), "layer_norm_backward \(shape)")
        }
    }

    @Test func batchNormBackwardMatchesNumericalJacobian() throws {
        for (shape, eps) in [([3, 2, 3, 4], 1e-5), ([2, 3, 1, 1], 0.5)] {
            let x = VJPCheck.random(shape, seed: 7, in: -1...3), gy = VJPCheck.random(shape, seed: 8)
            let c = shape[1]
            let unit = [Tensor(TensorType(.f64, [c]), repeating: 1), Tensor.zeros(TensorType(.f64, [c]))]
            let gx = try VJPCheck.run([x, gy]) { b, v in try b.batchNormBackward(v[0], v[1], eps: eps) }
            expectClose(gx, numericVJP(Ops.batchNorm, x, extra: unit, ["eps": .float(eps)], gy: gy), "batch_norm_backward \(shape)")
        }
    }

    @Test func backwardGradientsSumToZeroOverEachGroup() throws {
        // Every norm is invariant to adding a constant to a group, so its x gradient sums to 0 per group.
        let x = VJPCheck.random([2, 3, 4, 5], seed: 9), gy = VJPCheck.random([2, 3, 4, 5], seed: 10)
        let inorm = try VJPCheck.run([x, gy]) { b, v in try b.instanceNormBackward(v[0], v[1]) }
        let layer = try VJPCheck.run([x, gy]) { b, v in try b.layerNormBackward(v[0], v[1]) }
        let batch = try VJPCheck.run([x, gy]) { b, v in try b.batchNormBackward(v[0], v[1]) }
        for plane in 0..<6 { #expect(Swift.abs(inorm.scalars[plane * 20..<(plane + 1) * 20].reduce(0, +)) < 1e-12) }
        for sample in 0..<2 { #expect(Swift.abs(layer.scalars[sample * 60..<(sample + 1) * 60].reduce(0, +)) < 1e-12) }
        for channel in 0..<3 {
            let sum = (0..<2).map { n in batch.scalars[(n * 3 + channel) * 20..<(n * 3 + channel + 1) * 20].reduce(0, +) }
            #expect(Swift.abs(sum.reduce(0, +)) < 1e-12)
        }
    }

    @Test func layerNormBackwardOfAConstantSampleFollowsPyTorch() throws {
        // σ = 0: PyTorch's std has gradient 0 there, so only the mean's term remains: gx = (gy − mean(gy))/eps.
        let x = Tensor(.f64, shape: [1, 4], scalars: [2, 2, 2, 2]), gy = Tensor(.f64, shape: [1, 4], scalars: [1, 2, 3, 6])
        let gx = try VJPCheck.run([x, gy]) { b, v in try b.layerNormBackward(v[0], v[1], eps: 0.5) }
        #expect(gx.scalars == [-4, -2, 0, 6])
    }

    @Test func float32GraphsDifferentiate() throws {
        // The VJP rules' constants and reshapes take x's dtype; a float32 graph agrees with float64 to rounding.
        func gradients(_ dtype: DType) throws -> [String: Tensor] {
            let b = GraphBuilder(name: "f32")
            let x = b.parameter("x", TensorType(dtype, [2, 3, 4, 4]))
            let gamma = b.parameter("gamma", TensorType(dtype, [3])), beta = b.parameter("beta", TensorType(dtype, [3]))
            let y = try b.batchNorm(b.layerNorm(x, gamma: gamma, beta: beta), gamma: gamma, beta: beta)
            b.loss("loss", try b.reduceSum(b.mul(y, b.input("w", TensorType(dtype, [2, 3, 4, 4]))), axes: [0, 1, 2, 3]))
            var statistics = PassStatistics()
            let graph = try Autodiff().run(b.graph, statistics: &statistics)
            try graph.verified()
            let arguments = ["x": VJPCheck.random([2, 3, 4, 4], seed: 11), "gamma": VJPCheck.random([3], seed: 12),
                             "beta": VJPCheck.random([3], seed: 13), "w": VJPCheck.random([2, 3, 4, 4], seed: 14)]
            return try Interpreter(graph: graph).run(arguments.mapValues { $0.converted(to: .f32).converted(to: dtype) })
        }
        let (single, double) = (try gradients(.f32), try gradients(.f64))
        for name in ["grad.x", "grad.gamma", "grad.beta"] {
            let (a, b) = (try #require(single[name]), try #require(double[name]))
            #expect(a.dtype == .f32)
            let scale = b.scalars.map(Swift.abs).max() ?? 1
            #expect(a.converted(to: .f64).maxAbsDifference(b) <= 1e-4 * scale, "\(name)")
        }
    }

    // MARK: PyTorch

    /// The cases of `ops.safetensors` this suite covers.
    static let referenceCases: Set<String> = ["instance_norm", "adain", "munit_layer_norm", "batch_norm_train"]

    @Test func gradientsMatchPyTorchFloat64() throws {
        guard let reference = try OpReferenceCases.load() else { return }  // No shared folder beside this checkout.
        var checked: Set<String> = []
        for c in reference.cases {
            let eps = c.attributes["eps"] as? Double ?? 1e-5
            let errors = try OpReferenceCases.gradientErrors(c) { b, v -> ValueID? in
                switch c.op {
                case "instance_norm": return try b.instanceNorm(v[0], eps: eps)
                case "adain": return try b.adain(v[0], weight: v[1], bias: v[2], eps: eps)
                case "layer_norm": return try b.layerNorm(v[0], gamma: v[1], beta: v[2], eps: eps)
                case "batch_norm": return try b.batchNorm(v[0], gamma: v[1], beta: v[2], eps: eps)
                default: return nil
                }
            }
            guard let errors else { continue }
            for (i, error) in errors.enumerated() { #expect(error <= 1e-9, "\(c.name) grad \(i): relative error \(error)") }
            checked.insert(c.name)
        }
        #expect(Self.referenceCases.subtracting(checked).isEmpty, "not checked: \(Self.referenceCases.subtracting(checked).sorted())")
    }
}
