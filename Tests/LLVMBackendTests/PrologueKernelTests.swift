import GraphIR
import Passes
import Testing
@testable import LLVMBackend

/// `fuse-prologue`'s kernels (a pointwise producer computed inside the reduction or norm gradient that
/// reads it) against the interpreter running the unfused ops.
@Suite struct PrologueKernelTests {
    static func fuse(_ graph: Graph) throws -> Graph {
        var statistics = PassStatistics(), fused = graph
        for pass in [FuseElementwise(), FusePrologue(), DeadCodeElimination()] as [any Pass] {
            fused = try pass.run(fused, statistics: &statistics)
        }
        let prologues = fused.nodes.filter { $0.fusionKind == .prologue }
        #expect(prologues.count == 6, "every case's producer folds into its consumer: \(statistics.counters)")
        return fused
    }

    @Test func prologuesMatchTheInterpreter() throws {
        let x = TensorType.f32(2, 5, 7, 6), scalar = TensorType.f32()
        let cases = [
            // A loss: mean |x − y| · s over everything, the scalar broadcast into the chain.
            BackendCase(name: "l1_mean", inputs: [x, x, scalar]) { b, v in
                try b.reduceMean(b.mul(b.abs(b.sub(v[0], v[1])), v[2]), axes: [0, 1, 2, 3])
            },
            BackendCase(name: "square_sum_axes", inputs: [x]) { b, v in try b.reduceSum(b.square(v[0]), axes: [1, 3]) },
            BackendCase(name: "pool_of_exp", inputs: [x]) { b, v in try b.globalAvgPool(b.exp(v[0])) },
            // activation′ ⊙ upstream into the norms' backward (one op, and a fused chain).
            BackendCase(name: "in_backward_relu_mask", inputs: [x, x, x]) { b, v in
                try b.instanceNormBackward(v[0], b.mul(v[1], b.step(v[2])))
            },
            BackendCase(name: "ln_backward_chain", inputs: [x, x, x]) { b, v in
                try b.layerNormBackward(v[0], b.scale(b.mul(b.add(v[1], v[2]), b.step(v[2])), by: 0.5))
            },
            BackendCase(name: "single_op", inputs: [x]) { b, v in try b.reduceSum(b.neg(v[0]), axes: [0, 2]) },
        ]
        try BackendHarness.expectParity(cases, tolerance: 1e-6, transform: Self.fuse)
    }
}
