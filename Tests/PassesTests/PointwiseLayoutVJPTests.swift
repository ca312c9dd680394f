import Testing
@testable import GraphIR
@testable import Passes

/// Gradchecks `loss = Σ f(params) · weights` for the op built by `body`.
func gradcheck(
    _ name: String, parameters: [(String, [Int])], arguments: [String: Tensor] = [:], samples: Int = 5,
    _ body: (GraphBuilder, [ValueID]) throws -> ValueID
) throws -> [ParameterCheck] {
    let b = GraphBuilder(name: name)
    let values = parameters.map { b.parameter($0.0, TensorType(.f32, $0.1)) }
    let y = try body(b, values)
    let weights = b.input("weights", b.type(of: y))
    let weighted = try b.mul(y, weights)
    b.loss("loss", b.shape(of: y).isEmpty ? weighted : try b.reduceSum(weighted, axes: Array(0..<b.shape(of: y).count)))
    var checker = GradientChecker()
    checker.samples = samples
    return try checker.check(b.graph, arguments: arguments)
}

@Suite struct PointwiseLayoutVJPTests {
    @Test(arguments: ["relu", "leaky_relu", "selu", "tanh", "sigmoid"])
    func activationsPassGradcheck(_ name: String) throws {
        let op = try #require(Ops.named(name))
        let results = try gradcheck(name, parameters: [("x", [2, 3, 4, 5])], samples: 12) { b, v in
            try b.apply(op, [v[0]], name == "leaky_relu" ? ["slope": .float(0.3)] : [:])
        }
        for r in results { #expect(r.passed, "\(name): \(r.worstRelativeError)") }
    }

    @Test func activationGradientsAtZeroFollowPyTorch() throws {
        // relu'(0) = 0, leaky'(0) = slope, selu'(0) = scale·alpha.
        for (name, expected) in [("relu", 0.0), ("leaky_relu", 0.2), ("selu", Ops.seluScale * Ops.seluAlpha)] {
            let b = GraphBuilder(name: name)
            let x = b.parameter("x", TensorType(.f64, [1]))
            b.loss("loss", try b.reduceSum(b.apply(Ops.named(name)!, [x]), axes: [0]))
            var stats = PassStatistics()
            let g = try Autodiff().run(b.graph, statistics: &stats)
            let out = try Interpreter(graph: g).run(["x": Tensor(.f64, shape: [1], scalars: [0])])
            #expect(Swift.abs(out["grad.x"]!.scalars[0] - expected) < 1e-12, "\(name)")
        }
    }

    @Test(arguments: [[1], [3]])
    func preluPassesGradcheckForSharedAndPerChannelSlopes(_ slopeShape: [Int]) throws {
        var rng = SplitMix64(seed: 4)
        let slope = Tensor.random(TensorType(.f64, slopeShape), in: 0.1...0.4, using: &rng)
        let results = try gradcheck("prelu", parameters: [("x", [2, 3, 3, 2]), ("slope", slopeShape)],
                                    arguments: ["slope": slope], samples: 10) { b, v in try b.prelu(v[0], slope: v[1]) }
        for r in results { #expect(r.passed, "\(r.name): \(r.worstRelativeError)") }
    }

    @Test(arguments: [([0], false), ([1, 3], true), ([0, 1, 2, 3], false), ([2], true)])
    func reductionsPassGradcheck(_ axes: [Int], keepdims: Bool) throws {
        for op in [Ops.reduceSum, Ops.reduceMean] {
            let results = try gradcheck(op.name, parameters: [("x", [2, 3, 4, 5])]) { b, v in
                try b.apply(op, [v[0]], ["axes": .ints(axes), "keepdims": .bool(keepdims)])
            }
            for r in results { #expect(r.passed, "\(op.name) \(axes): \(r.worstRelativeError)") }
        }
    }

    @Test func layoutOpsPassGradcheck() throws {
        let cases: [(String, [(String, [Int])], (GraphBuilder, [ValueID]) throws -> ValueID)] = [
            ("reshape", [("x", [2, 3, 4])], { b, v in try b.reshape(v[0], to: [4, 6]) }),
            ("transpose", [("x", [2, 3, 4, 5])], { b, v in try b.transpose(v[0], perm: [2, 0, 3, 1]) }),
            ("slice", [("x", [3, 5, 4])], { b, v in try b.slice(v[0], starts: [1, 0, 2], ends: [3, 4, 4]) }),
            ("slice_all", [("x", [3, 5])], { b, v in try b.slice(v[0], starts: [0, 0], ends: [3, 5]) }),
            ("concat", [("a", [2, 3, 2]), ("b", [2, 1, 2]), ("c", [2, 4, 2])], { b, v in try b.concat(v, axis: 1) }),
            ("broadcast_to", [("x", [3, 1])], { b, v in try b.broadcast(v[0], to: [2, 3, 4]) }),
            ("cast", [("x", [4])], { b, v in try b.cast(b.cast(v[0], to: .f64), to: .f32) }),
        ]
        for (name, parameters, body) in cases {
            let results = try gradcheck(name, parameters: parameters, samples: 8, body)
            for r in results { #expect(r.passed, "\(name) \(r.name): \(r.worstRelativeError)") }
        }
    }

    @Test func binaryCrossEntropyPassesGradcheckInBothOperands() throws {
        var rng = SplitMix64(seed: 9)
        let p = Tensor.random(TensorType(.f64, [2, 5]), in: 0.05...0.95, using: &rng)
        let t = Tensor.random(TensorType(.f64, [5]), in: 0...1, using: &rng)
        let results = try gradcheck("bce", parameters: [("p", [2, 5]), ("t", [5])], arguments: ["p": p, "t": t]) { b, v in
            try b.binaryCrossEntropy(v[0], v[1])
        }
        for r in results { #expect(r.passed, "\(r.name): \(r.worstRelativeError)") }
    }

    @Test(arguments: [0.0, 1.0])
    func composedGANLossesPassGradcheck(target: Double) throws {
        for loss in ["lsgan", "nsgan", "l1"] {
            let results = try gradcheck(loss, parameters: [("x", [2, 1, 3, 3]), ("y", [2, 1, 3, 3])], samples: 6) { b, v in
                switch loss {
                case "lsgan": return try b.lsganLoss(v[0], target: target)
                case "nsgan": return try b.nsganLoss(v[0], target: target)
                default: return try b.l1Loss(v[0], v[1])
                }
            }
            for r in results { #expect(r.passed, "\(loss) \(r.name): \(r.worstRelativeError)") }
        }
    }
}
