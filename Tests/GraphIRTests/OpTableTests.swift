import Testing
@testable import GraphIR

@Suite struct OpTableTests {
    @Test func namesAreUniqueAndLookupWorks() {
        #expect(Set(Ops.all.map(\.name)).count == Ops.all.count)
        for op in Ops.all { #expect(Ops.named(op.name) === op) }
    }

    /// Autodiff needs a rule for every op a loss can depend on; only ops that make values from nothing,
    /// block gradients, or exist to express gradients may lack one.
    @Test func everyDifferentiableOpHasAVJPRule() {
        let exempt: OpTraits = [.constant, .gradientBarrier, .backward, .fused]
        for op in Ops.all where op.traits.isDisjoint(with: exempt) {
            #expect(op.vjp != nil, "\(op.name) has no VJP rule")
        }
    }

    @Test func everyMUNITOpIsInTheTable() {
        let needed = [
            "conv2d", "pad", "instance_norm", "adain", "layer_norm", "batch_norm", "relu", "leaky_relu", "prelu",
            "selu", "tanh", "sigmoid", "add", "sub", "mul", "div", "abs", "square", "sqrt", "exp", "log", "matmul",
            "linear", "reshape", "transpose", "slice", "concat", "reduce_sum", "reduce_mean", "upsample_nearest",
            "avg_pool2d", "global_avg_pool", "max_pool2d", "constant", "stop_gradient", "binary_cross_entropy",
        ]
        for name in needed { #expect(Ops.named(name) != nil, "\(name) is missing") }
    }
}
