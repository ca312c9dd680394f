import GraphIR
import LLVMBackend
import Passes
import Testing
@testable import Training

/// The library's one path from a graph to a runnable step (`Execution`): fused unless told not to, less the
/// disabled passes, then compiled or interpreted.
@Suite struct ExecutionTests {
    /// conv → instance norm → ReLU, then a mean: an epilogue for the fusion passes.
    static func graph() throws -> Graph {
        let b = GraphBuilder(name: "block")
        let x = b.input("x", TensorType(.f32, [1, 3, 8, 8])), w = b.parameter("w", TensorType(.f32, [8, 3, 3, 3]))
        let y = try b.relu(b.instanceNorm(b.conv2d(x, w)))
        b.loss("loss", try b.reduceMean(b.apply(Ops.abs, [y]), axes: [0, 1, 2, 3]))
        b.output("y", y)
        return b.graph
    }

    static let inputs: [String: Tensor] = {
        var rng = SplitMix64(seed: 3)
        return ["x": .random(TensorType(.f32, [1, 3, 8, 8]), using: &rng), "w": .random(TensorType(.f32, [8, 3, 3, 3]), using: &rng)]
    }()

    @Test func preparedGraphsAreFusedUnlessToldNot() throws {
        let graph = try Self.graph()
        let kinds = { (g: Graph) in g.nodes.compactMap(\.fusionKind) }
        #expect(kinds(try Execution().prepared(graph)).contains(.convolutionEpilogue))
        #expect(kinds(try Execution(fuse: false).prepared(graph)).isEmpty)
        #expect(!kinds(try Execution(disabledPasses: [FuseConvolutionEpilogue.name]).prepared(graph)).contains(.convolutionEpilogue))
    }

    @Test func compiledFusedStepMatchesTheInterpreter() throws {
        let graph = try Self.graph()
        let reference = try Execution(backend: .interp, fuse: false).makeRunner(graph).run(Self.inputs)
        let compiled = try Execution(options: CompileOptions(threads: 1)).makeRunner(graph).run(Self.inputs)
        for name in ["loss", "y"] {
            let (a, b) = (try #require(compiled[name]), try #require(reference[name]))
            let worst = zip(a.scalars, b.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-5, "\(name): \(worst)")
        }
    }
}
