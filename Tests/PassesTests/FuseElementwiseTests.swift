import Testing
@testable import GraphIR
@testable import Passes

/// `fuse-elementwise`: golden text before and after, cases that must not fuse, and the interpreter's
/// agreement (bit for bit: a region computes what its nodes computed).
@Suite struct FuseElementwiseTests {
    @Test func chainBecomesOneNodeWithItsConstantAndExportedValues() throws {
        let (text, statistics) = try CleanupCheck.run(FuseElementwise(), """
            graph g {
              input %x : f32[2, 3]
              input %s : f32[]
              %0 = constant() {value = 0.5, shape = [], dtype = f32} : f32[]
              %1 = mul(%x, %0) : f32[2, 3]
              %2 = add(%1, %s) : f32[2, 3]
              %3 = relu(%2) : f32[2, 3]
              %4 = reduce_sum(%2) {axes = [0, 1], keepdims = false} : f32[]
              output y = %3
              output total = %4
            }
            """)
        #expect(statistics["groups"] == 1)
        #expect(statistics["nodes-fused"] == 3)
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[2, 3]
              input %s : f32[]
              %0 = constant() {value = 0.5, shape = [], dtype = f32} : f32[]
              %1, %2 = fused(%x, %s) {kind = elementwise} : f32[2, 3], f32[2, 3] {
                input %a0 : f32[2, 3]
                %0 = constant() {value = 0.5, shape = [], dtype = f32} : f32[]
                %1 = mul(%a0, %0) : f32[2, 3]
                input %a1 : f32[]
                %2 = add(%1, %a1) : f32[2, 3]
                %3 = relu(%2) : f32[2, 3]
                output r0 = %2
                output r1 = %3
              }
              %3 = reduce_sum(%1) {axes = [0, 1], keepdims = false} : f32[]
              output y = %2
              output total = %3
            }
            """))
    }

    /// Different shapes, PReLU (channel-indexed), and an operand produced after the chain began stay apart.
    @Test func leavesWhatCannotFuse() throws {
        let text = """
            graph g {
              input %x : f32[2, 3]
              input %w : f32[3]
              %0 = relu(%x) : f32[2, 3]
              %1 = reduce_sum(%0) {axes = [1], keepdims = true} : f32[2, 1]
              %2 = neg(%1) : f32[2, 1]
              %3 = prelu(%0, %w) : f32[2, 3]
              %4 = add(%3, %1) : f32[2, 3]
              output y = %4
              output z = %2
            }
            """
        let (result, statistics) = try CleanupCheck.run(FuseElementwise(), text)
        #expect(statistics["groups"] == 0)
        #expect(result == printGraph(try parseGraph(text)))
    }

    /// A scalar computed from arguments after the chain began (Adam's bias corrections come after the
    /// gradients) is scheduled first, so the chain still fuses whole.
    @Test func hoistsScalarArgumentComputations() throws {
        let (text, statistics) = try CleanupCheck.run(FuseElementwise(), """
            graph g {
              input %x : f32[16, 16]
              input %lr : f32[]
              %0 = relu(%x) : f32[16, 16]
              %1 = neg(%0) : f32[16, 16]
              %2 = mul(%lr, %lr) : f32[]
              %3 = mul(%1, %2) : f32[16, 16]
              output y = %3
            }
            """)
        #expect(statistics["groups"] == 1 && statistics["nodes-fused"] == 3)
        let fused = try parseGraph(text)
        #expect(fused.nodes.map(\.op.name) == ["mul", "fused"], "the scalar first, then one loop")
    }

    /// Adam's update of one parameter: the whole chain, moments included, is one node with three results.
    @Test func adamUpdateIsOneKernel() throws {
        let b = GraphBuilder(name: "train")
        let x = b.input("x", TensorType(.f32, [4, 5]))
        let w = b.parameter("w", TensorType(.f32, [5, 3]))
        b.loss("loss", try b.meanAll(b.square(b.matmul(x, w))))
        let step = try PassManager(pipeline: [try Autodiff(matching: nil), AdamPass(options: AdamOptions())] + PassRegistry.cleanupPipeline())
            .run(b.graph).0
        var statistics = PassStatistics()
        let fused = try FuseElementwise().run(step, statistics: &statistics)
        try fused.verified()
        let updates = fused.nodes.filter { $0.region?.outputs.count == 3 }
        #expect(updates.count == 1, "next.w, next.optimizer.m.w and next.optimizer.v.w from one node")
        try CleanupCheck.expectEquivalent(step, fused)
    }

    @Test(arguments: 0..<40) func randomGraphsComputeTheSameBitForBit(seed: Int) throws {
        let graph = try RandomGraphGenerator.make(seed: UInt64(seed), steps: 30)
        var statistics = PassStatistics()
        let fused = try FuseElementwise().run(graph, statistics: &statistics)
        try fused.verified()
        try CleanupCheck.expectEquivalent(graph, fused)
        #expect(printGraph(try parseGraph(printGraph(fused))) == printGraph(fused), "the fused graph round-trips through the text format")
        #expect(fused.nodes.count == graph.nodes.count - (statistics["nodes-fused"] ?? 0) + (statistics["groups"] ?? 0))
    }
}
