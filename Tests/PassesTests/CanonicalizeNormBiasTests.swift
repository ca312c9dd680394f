import Testing
@testable import GraphIR
@testable import Passes

/// `canonicalize` on convolution biases that a following norm cancels, and on their gradients.
@Suite struct CanonicalizeNormBiasTests {
    /// Runs canonicalize; the norms make the results equal only up to rounding (the bias no longer enters
    /// the sums), hence the tolerance.
    func run(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> (String, PassStatistics) {
        try CleanupCheck.run(Canonicalize(), text, tolerance: 1e-5, sourceLocation: sourceLocation)
    }

    @Test func dropsBiasesThatInstanceNormAdaINAndBatchNormCancel() throws {
        let (text, statistics) = try run("""
            graph g {
              input %x : f32[2, 3, 5, 5]
              input %style : f32[2, 4]
              param %w : f32[4, 3, 3, 3] trainable
              param %b : f32[4] trainable
              param %gamma : f32[4] trainable
              %0 = conv2d(%x, %w, %b) {stride = [1, 1], pad = [1, 1, 1, 1]} : f32[2, 4, 5, 5]
              %1 = instance_norm(%0) {eps = 1e-05} : f32[2, 4, 5, 5]
              %2 = conv2d(%x, %w, %b) {stride = [2, 2], pad = [1, 1, 1, 1]} : f32[2, 4, 3, 3]
              %3 = adain(%2, %style, %style) {eps = 1e-05} : f32[2, 4, 3, 3]
              %4 = conv2d(%x, %w, %b) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 4, 3, 3]
              %5 = batch_norm(%4, %gamma, %gamma) {eps = 1e-05} : f32[2, 4, 3, 3]
              %6 = instance_norm(%4) {eps = 1e-05} : f32[2, 4, 3, 3]
              output in = %1
              output adain = %3
              output bn = %5
              output both = %6
            }
            """)
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[2, 3, 5, 5]
              input %style : f32[2, 4]
              param %w : f32[4, 3, 3, 3] trainable
              param %b : f32[4] trainable
              param %gamma : f32[4] trainable
              %0 = conv2d(%x, %w) {stride = [1, 1], pad = [1, 1, 1, 1]} : f32[2, 4, 5, 5]
              %1 = instance_norm(%0) {eps = 1e-05} : f32[2, 4, 5, 5]
              %2 = conv2d(%x, %w) {stride = [2, 2], pad = [1, 1, 1, 1]} : f32[2, 4, 3, 3]
              %3 = adain(%2, %style, %style) {eps = 1e-05} : f32[2, 4, 3, 3]
              %4 = conv2d(%x, %w) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 4, 3, 3]
              %5 = batch_norm(%4, %gamma, %gamma) {eps = 1e-05} : f32[2, 4, 3, 3]
              %6 = instance_norm(%4) {eps = 1e-05} : f32[2, 4, 3, 3]
              output in = %1
              output adain = %3
              output bn = %5
              output both = %6
            }
            """))
        #expect(statistics["conv-biases-dropped"] == 3)
    }

    /// The bias stays where anything else sees the convolution's result: an activation, an output, layer
    /// norm (one mean over all channels), AdaIN's scale operand.
    @Test func keepsBiasesSomethingElseSees() throws {
        let source = """
            graph g {
              input %x : f32[2, 3, 4, 4]
              param %w : f32[2, 3, 1, 1] trainable
              param %b : f32[2] trainable
              %0 = conv2d(%x, %w, %b) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 2, 4, 4]
              %1 = instance_norm(%0) {eps = 1e-05} : f32[2, 2, 4, 4]
              %2 = relu(%0) : f32[2, 2, 4, 4]
              %3 = conv2d(%x, %w, %b) {stride = [2, 2], pad = [0, 0, 0, 0]} : f32[2, 2, 2, 2]
              %4 = instance_norm(%3) {eps = 1e-05} : f32[2, 2, 2, 2]
              %5 = conv2d(%x, %w, %b) {stride = [1, 1], pad = [1, 1, 1, 1]} : f32[2, 2, 6, 6]
              %6 = layer_norm(%5, %b, %b) {eps = 1e-05} : f32[2, 2, 6, 6]
              output in = %1
              output relu = %2
              output in2 = %4
              output conv = %3
              output ln = %6
            }
            """
        let (text, statistics) = try run(source)
        #expect(text == printGraph(try parseGraph(source)))
        #expect(statistics["conv-biases-dropped"] == 0)
    }

    /// After autodiff, the bias gradient Σ_{n,h,w} instance_norm_backward(…) is exactly zero in real
    /// arithmetic and rounding noise in floats: canonicalize makes it an explicit zero constant, keeps the
    /// parameter and its `grad.` output, and drops the bias from the forward convolution.
    @Test func gradientOfACancelledBiasBecomesAnExplicitZero() throws {
        let b = GraphBuilder(name: "block")
        let x = b.input("x", TensorType(.f32, [2, 3, 6, 6]))
        let w = b.parameter("conv.weight", TensorType(.f32, [4, 3, 3, 3]))
        let bias = b.parameter("conv.bias", TensorType(.f32, [4]))
        let y = try b.relu(b.instanceNorm(b.conv2d(x, w, bias, pad: [1, 1, 1, 1])))
        b.loss("loss", try b.meanAll(b.square(y)))
        var statistics = PassStatistics()
        let step = try Autodiff().run(b.graph, statistics: &statistics)
        statistics = PassStatistics()
        let clean = try Canonicalize().run(step, statistics: &statistics)
        try clean.verified()
        #expect(statistics["conv-biases-dropped"] == 1)
        #expect(statistics["zero-sums"] == 1)
        #expect(clean.argument(named: "conv.bias") != nil, "the parameter stays in the interface")
        let gradient = try #require(clean.output(named: "grad.conv.bias"))
        let zero = try #require(clean.definingNode(of: gradient.value))
        #expect(zero.op === Ops.constant && zero.attributes.float("value") == 0)
        #expect(!clean.nodes.contains { $0.op === Ops.conv2d && $0.operands.count == 3 })

        let arguments = CleanupCheck.randomArguments(step, seed: 11)
        let before = try Interpreter(graph: step).run(arguments), after = try Interpreter(graph: clean).run(arguments)
        let weightScale = try #require(before["grad.conv.weight"]).scalars.map(Swift.abs).max() ?? 0
        #expect(try #require(before["grad.conv.bias"]).scalars.allSatisfy { Swift.abs($0) < 1e-5 * weightScale },
                "before: the bias gradient is rounding noise")
        #expect(try #require(after["grad.conv.bias"]).scalars.allSatisfy { $0 == 0 })
        try CleanupCheck.expectEquivalent(step, clean, tolerance: 1e-5, seed: 11, skipping: ["grad.conv.bias"])
    }
}
