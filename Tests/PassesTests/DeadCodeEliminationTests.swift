import Testing
@testable import GraphIR
@testable import Passes

@Suite struct DeadCodeEliminationTests {
    func run(_ text: String) throws -> (String, PassStatistics) {
        var statistics = PassStatistics()
        let result = try DeadCodeElimination().run(try parseGraph(text), statistics: &statistics)
        try result.verified()
        return (printGraph(result), statistics)
    }

    @Test func removesUnusedChainsAndKeepsArguments() throws {
        let (text, statistics) = try run("""
            graph g {
              input %x : f32[4]
              input %unused : f32[2]
              %0 = neg(%x) : f32[4]
              %1 = exp(%x) : f32[4]
              %2 = square(%1) : f32[4]
              %3 = abs(%0) : f32[4]
              output y = %3
            }
            """)
        #expect(text == """
            graph g {
              input %x : f32[4]
              input %unused : f32[2]
              %0 = neg(%x) : f32[4]
              %1 = abs(%0) : f32[4]
              output y = %1
            }

            """)
        #expect(statistics["nodes-removed"] == 2)
    }

    @Test func keepsEverythingWhenAllIsLive() throws {
        let source = """
            graph g {
              input %x : f32[4]
              %0 = neg(%x) : f32[4]
              %1 = add(%0, %x) : f32[4]
              output a = %0
              output l = %1
            }
            """
        let (text, statistics) = try run(source)
        #expect(text == printGraph(try parseGraph(source)))
        #expect(statistics["nodes-removed"] == 0)
    }

    /// Glow's checkNumericalEquivalence: the training step with and without DCE computes the same outputs.
    @Test func trainingStepIsNumericallyUnchanged() throws {
        let b = GraphBuilder(name: "step")
        let image = b.input("image", TensorType(.f32, [1, 2, 6, 6]))
        let w = b.parameter("w", TensorType(.f32, [3, 2, 3, 3]))
        let y = try b.relu(b.conv2d(image, w, pad: [1, 1, 1, 1]))
        b.loss("loss", try b.meanAll(b.square(y)))
        let (step, _) = try PassManager(pipeline: [Autodiff(), AdamPass()]).run(b.graph)
        var statistics = PassStatistics()
        let pruned = try DeadCodeElimination().run(step, statistics: &statistics)
        #expect(statistics["nodes-removed"] >= 1, "the gradient w.r.t. the image is dead")
        #expect(!pruned.nodes.contains { $0.op.name == "conv2d_backward_input" })
        var rng = SplitMix64(seed: 5)
        var inputs: [String: Tensor] = [:]
        for arg in step.arguments { inputs[arg.name] = Tensor.random(step.type(of: arg.value), using: &rng) }
        inputs["optimizer.step"] = Tensor(.f32, shape: [], scalars: [1])
        inputs["optimizer.v.w"] = Tensor.zeros(TensorType(.f32, [3, 2, 3, 3]))
        #expect(try Interpreter(graph: pruned).run(inputs) == Interpreter(graph: step).run(inputs))
    }
}
