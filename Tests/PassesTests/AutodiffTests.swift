import Testing
@testable import GraphIR
@testable import Passes

/// Runs autodiff on `graph` and returns the differentiated graph.
func differentiate(_ graph: Graph, _ autodiff: Autodiff = Autodiff()) throws -> (Graph, PassStatistics) {
    var statistics = PassStatistics()
    let result = try autodiff.run(graph, statistics: &statistics)
    try result.verified()
    return (result, statistics)
}

@Suite struct AutodiffTests {
    let vector = TensorType(.f64, [3])

    @Test func gradientsOfMultiUseValuesAreSummed() throws {
        // loss = Σ (w·w + w) ⇒ ∂loss/∂w = 2w + 1.
        let b = GraphBuilder(name: "multi_use")
        let w = b.parameter("w", vector)
        b.loss("loss", try b.reduceSum(b.add(b.mul(w, w), w), axes: [0]))
        let (g, stats) = try differentiate(b.graph)
        #expect(stats["gradient-sums"] >= 2)
        let wValue = Tensor(.f64, shape: [3], scalars: [0.5, -2, 3])
        let out = try Interpreter(graph: g).run(["w": wValue])
        #expect(out["grad.w"]?.scalars == [2, -3, 7])
    }

    @Test func stopGradientBlocksOnlyItsPath() throws {
        // loss = Σ stop_gradient(w)·w ⇒ ∂loss/∂w = w (not 2w).
        let b = GraphBuilder(name: "detach")
        let w = b.parameter("w", vector)
        b.loss("loss", try b.reduceSum(b.mul(b.stopGradient(w), w), axes: [0]))
        let (g, _) = try differentiate(b.graph)
        let out = try Interpreter(graph: g).run(["w": Tensor(.f64, shape: [3], scalars: [1, 2, 3])])
        #expect(out["grad.w"]?.scalars == [1, 2, 3])
    }

    @Test func unreachedParametersGetExplicitZeroGradients() throws {
        let b = GraphBuilder(name: "unreached")
        let w = b.parameter("w", vector)
        let unused = b.parameter("unused", TensorType(.f64, [2, 2]))
        let frozen = b.parameter("frozen", vector, trainable: false)
        b.output("side", try b.neg(unused))
        b.loss("loss", try b.reduceSum(b.mul(w, frozen), axes: [0]))
        let (g, stats) = try differentiate(b.graph)
        #expect(stats["zero-gradients"] == 1)
        #expect(g.output(named: "grad.frozen") == nil, "non-trainable parameters are constants to autodiff")
        let out = try Interpreter(graph: g).run([
            "w": Tensor(.f64, shape: [3], scalars: [1, 1, 1]), "unused": Tensor.zeros(TensorType(.f64, [2, 2])),
            "frozen": Tensor(.f64, shape: [3], scalars: [4, 5, 6]),
        ])
        #expect(out["grad.unused"]?.scalars == [0, 0, 0, 0])
        #expect(out["grad.w"]?.scalars == [4, 5, 6])
    }

    @Test func broadcastGradientsSumBackToTheOperandShape() throws {
        // y = x + bias (bias broadcast over rows), loss = Σ y·c ⇒ ∂/∂bias = column sums of c.
        let b = GraphBuilder(name: "bias")
        let x = b.input("x", TensorType(.f64, [2, 3]))
        let c = b.input("c", TensorType(.f64, [2, 3]))
        let bias = b.parameter("bias", vector)
        let scalar = b.parameter("s", TensorType(.f64, []))
        b.loss("loss", try b.reduceSum(b.mul(b.mul(b.add(x, bias), c), scalar), axes: [0, 1]))
        let (g, _) = try differentiate(b.graph)
        let out = try Interpreter(graph: g).run([
            "x": Tensor(.f64, shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]),
            "c": Tensor(.f64, shape: [2, 3], scalars: [1, 0, 2, 3, 1, 1]),
            "bias": Tensor(.f64, shape: [3], scalars: [0, 0, 0]), "s": Tensor(.f64, shape: [], scalars: [2]),
        ])
        #expect(out["grad.bias"]?.scalars == [8, 2, 6])
        #expect(out["grad.s"]?.scalars == [1 + 0 + 6 + 12 + 5 + 6])
    }

    @Test func rejectsGraphsWithoutLossOrTargets() throws {
        let b = GraphBuilder(name: "no_loss")
        let w = b.parameter("w", vector)
        b.output("y", try b.neg(w))
        #expect(throws: PassError.self) { try differentiate(b.graph) }
        let c = GraphBuilder(name: "no_params")
        let x = c.input("x", vector)
        c.loss("loss", try c.reduceSum(x, axes: [0]))
        #expect(throws: PassError.self) { try differentiate(c.graph) }
        let (once, _) = try differentiate(b.graph.withLoss(on: w))
        #expect(throws: PassError.self) { try differentiate(once) }
    }

    @Test func wrtRegexSelectsParameters() throws {
        let b = GraphBuilder(name: "select")
        let wa = b.parameter("gen_a.w", vector)
        let wb = b.parameter("gen_b.w", vector)
        b.loss("loss", try b.reduceSum(b.mul(wa, wb), axes: [0]))
        let (g, _) = try differentiate(b.graph, try Autodiff(matching: "gen_a\\..*"))
        #expect(g.output(named: "grad.gen_a.w") != nil)
        #expect(g.output(named: "grad.gen_b.w") == nil)
    }

    @Test(arguments: ["add", "sub", "mul", "div", "maximum", "minimum"])
    func binaryOpsPassGradcheckWithBroadcasting(_ name: String) throws {
        let op = try #require(Ops.named(name))
        let b = GraphBuilder(name: name)
        let x = b.parameter("x", TensorType(.f32, [2, 3, 4]))
        let y = b.parameter("y", TensorType(.f32, [3, 1]))
        let z = try b.apply(op, [x, y])
        let weights = b.input("weights", TensorType(.f32, [2, 3, 4]))
        b.loss("loss", try b.reduceSum(b.mul(z, weights), axes: [0, 1, 2]))
        var positive = SplitMix64(seed: 1)
        // Keep divisors away from 0 so finite differences are well conditioned.
        let divisor = Tensor.random(TensorType(.f64, [3, 1]), in: 0.5...2, using: &positive)
        var checker = GradientChecker()
        checker.samples = 6
        let results = try checker.check(b.graph, arguments: name == "div" ? ["y": divisor] : [:])
        for r in results { #expect(r.passed, "\(name) \(r.name): worst \(r.worstRelativeError)") }
    }

    @Test(arguments: ["neg", "abs", "square", "sqrt", "exp", "log", "reciprocal", "scale", "shift", "sign"])
    func unaryOpsPassGradcheck(_ name: String) throws {
        let op = try #require(Ops.named(name))
        let b = GraphBuilder(name: name)
        let x = b.parameter("x", TensorType(.f32, [5, 3]))
        let attributes: Attributes = name == "scale" ? ["factor": .float(-1.5)] : name == "shift" ? ["offset": .float(2)] : [:]
        let y = try b.apply(op, [x], attributes)
        b.loss("loss", try b.reduceSum(b.mul(y, b.input("weights", TensorType(.f32, [5, 3]))), axes: [0, 1]))
        var rng = SplitMix64(seed: 2)
        let domainNeedsPositive = ["sqrt", "log", "reciprocal"].contains(name)
        let x0 = Tensor.random(TensorType(.f64, [5, 3]), in: domainNeedsPositive ? 0.3...2 : -2...2, using: &rng)
        let results = try GradientChecker().check(b.graph, arguments: ["x": x0])
        for r in results { #expect(r.passed, "\(name): worst \(r.worstRelativeError)") }
    }

    @Test func absGradientAtZeroIsZeroAndKinksAreResampled() throws {
        let b = GraphBuilder(name: "kink")
        let x = b.parameter("x", TensorType(.f64, [20]))
        b.loss("loss", try b.reduceSum(b.abs(x), axes: [0]))
        let (g, _) = try differentiate(b.graph)
        var values = [Double](repeating: 0, count: 20)
        values[3] = 2
        values[4] = -1
        let out = try Interpreter(graph: g).run(["x": Tensor(.f64, shape: [20], scalars: values)])
        #expect(out["grad.x"]?.scalars[0] == 0)
        #expect(out["grad.x"]?.scalars[3] == 1)
        #expect(out["grad.x"]?.scalars[4] == -1)
        var checker = GradientChecker()
        checker.samples = 3
        checker.maxResamples = 100
        let result = try #require(try checker.check(b.graph, arguments: ["x": Tensor(.f64, shape: [20], scalars: values)]).first)
        #expect(result.kinksResampled > 0, "most elements sit on the kink and are resampled")
        #expect(result.passed)
        #expect(result.checked == 2, "only the two elements off the kink can be checked")
    }
}

extension Graph {
    /// This graph with a scalar loss Σ value added (helper for tests that need a loss).
    func withLoss(on value: ValueID) throws -> Graph {
        let b = GraphBuilder(graph: self)
        b.loss("loss", try b.reduceSum(value, axes: Array(0..<b.shape(of: value).count)))
        return b.graph
    }
}

@Suite struct GradientCheckerTests {
    /// An op whose VJP is deliberately wrong (twice the true gradient): the checker must catch it.
    static let brokenDouble = OpDefinition(
        name: "broken_double", summary: "2x with a wrong gradient", operands: .fixed(["x"]),
        inferTypes: { types, _ throws(OpError) in [types[0]] },
        kernel: { inputs, _, results in [Tensor(results[0], scalars: inputs[0].scalars.map { 2 * $0 })] },
        vjp: { ctx in [try ctx.builder.scale(ctx.gradient, by: 4)] })

    @Test func catchesAWrongVJPRule() throws {
        let b = GraphBuilder(name: "broken")
        let x = b.parameter("x", TensorType(.f32, [5]))
        b.loss("loss", try b.reduceSum(b.square(b.apply(Self.brokenDouble, [x])), axes: [0]))
        let result = try #require(try GradientChecker().check(b.graph).first)
        #expect(!result.passed)
        #expect(Swift.abs(result.worstRelativeError - 0.5) < 1e-6, "symbolic is twice the numeric gradient")
    }

    @Test func exactZeroGradientsPassDespiteFiniteDifferenceNoise() throws {
        // A bias added before an instance norm cancels: its gradient is exactly 0 and FD measures noise.
        let b = GraphBuilder(name: "cancel")
        let x = b.input("x", TensorType(.f32, [2, 3, 4, 4]))
        let bias = b.parameter("bias", TensorType(.f32, [1, 3, 1, 1]))
        let y = try b.instanceNorm(b.add(x, bias))
        b.loss("loss", try b.reduceSum(b.mul(y, b.input("w", TensorType(.f32, [2, 3, 4, 4]))), axes: [0, 1, 2, 3]))
        let result = try #require(try GradientChecker().check(b.graph).first)
        #expect(result.passed, "worst \(result.worstRelativeError)")
    }
}
