import Testing
@testable import GraphIR
@testable import Passes

/// `fuse-conv-epilogue`: golden text, what it leaves alone, nesting with `fuse-conv-input`, and the
/// interpreter's agreement bit for bit.
@Suite struct FuseConvolutionEpilogueTests {
    /// AdaIN, ReLU and the residual fold; the convolution's and the norm's outputs stay results because
    /// other nodes read them (a training step's backward does).
    @Test func foldsNormActivationAndResidual() throws {
        let (text, statistics) = try CleanupCheck.run(FuseConvolutionEpilogue(), """
            graph g {
              input %x : f32[1, 2, 6, 6]
              input %w : f32[4, 2, 3, 3]
              input %r : f32[1, 4, 4, 4]
              input %gamma : f32[1, 4]
              input %beta : f32[1, 4]
              %0 = conv2d(%x, %w) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, 4, 4, 4]
              %1 = adain(%0, %gamma, %beta) {eps = 1e-05} : f32[1, 4, 4, 4]
              %2 = relu(%1) : f32[1, 4, 4, 4]
              %3 = add(%2, %r) : f32[1, 4, 4, 4]
              %4 = step(%1) : f32[1, 4, 4, 4]
              output y = %3
              output mask = %4
              output conv = %0
            }
            """)
        #expect(statistics["convolutions"] == 1 && statistics["norms"] == 1 && statistics["activations"] == 1
                && statistics["residual-adds"] == 1)
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[1, 2, 6, 6]
              input %w : f32[4, 2, 3, 3]
              input %r : f32[1, 4, 4, 4]
              input %gamma : f32[1, 4]
              input %beta : f32[1, 4]
              %0, %1, %2 = fused(%x, %w, %gamma, %beta, %r) {kind = conv2d_epilogue} : f32[1, 4, 4, 4], f32[1, 4, 4, 4], f32[1, 4, 4, 4] {
                input %a0 : f32[1, 2, 6, 6]
                input %a1 : f32[4, 2, 3, 3]
                %0 = conv2d(%a0, %a1) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, 4, 4, 4]
                input %a2 : f32[1, 4]
                input %a3 : f32[1, 4]
                %1 = adain(%0, %a2, %a3) {eps = 1e-05} : f32[1, 4, 4, 4]
                %2 = relu(%1) : f32[1, 4, 4, 4]
                input %a4 : f32[1, 4, 4, 4]
                %3 = add(%2, %a4) : f32[1, 4, 4, 4]
                output r0 = %0
                output r1 = %1
                output r2 = %3
              }
              %3 = step(%1) : f32[1, 4, 4, 4]
              output y = %2
              output mask = %3
              output conv = %0
            }
            """))
    }

    /// A residual computed after the convolution (it could not be read where the fused node sits), a
    /// broadcasting add, and a batch norm (statistics across the batch) stay outside.
    @Test func leavesWhatCannotFold() throws {
        let text = """
            graph g {
              input %x : f32[2, 2, 6, 6]
              input %w : f32[4, 2, 3, 3]
              input %b : f32[4, 1, 1]
              input %gamma : f32[4]
              input %beta : f32[4]
              %0 = conv2d(%x, %w) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 4, 4, 4]
              %1 = batch_norm(%0, %gamma, %beta) {eps = 1e-05} : f32[2, 4, 4, 4]
              %2 = conv2d(%x, %w) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 4, 4, 4]
              %3 = neg(%x) : f32[2, 2, 6, 6]
              %4 = conv2d(%3, %w) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 4, 4, 4]
              %5 = add(%2, %4) : f32[2, 4, 4, 4]
              %6 = add(%5, %b) : f32[2, 4, 4, 4]
              output y = %1
              output z = %6
            }
            """
        let (result, statistics) = try CleanupCheck.run(FuseConvolutionEpilogue(), text)
        #expect(statistics["convolutions"] == 0)
        #expect(result == printGraph(try parseGraph(text)))
    }

    /// After `fuse-conv-input`, the fused convolution nests inside the epilogue's region; the text round-trips.
    @Test func nestsAFusedConvolution() throws {
        let input = """
            graph g {
              input %x : f32[1, 2, 3, 3]
              input %w : f32[4, 2, 3, 3]
              input %gamma : f32[4]
              input %beta : f32[4]
              %0 = upsample_nearest(%x) {scale = [2, 2]} : f32[1, 2, 6, 6]
              %1 = pad(%0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 8, 8]
              %2 = conv2d(%1, %w) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, 4, 6, 6]
              %3 = layer_norm(%2, %gamma, %beta) {eps = 1e-05} : f32[1, 4, 6, 6]
              %4 = tanh(%3) : f32[1, 4, 6, 6]
              output y = %4
            }
            """
        var statistics = PassStatistics()
        let folded = try FuseConvolutionInput().run(try parseGraph(input), statistics: &statistics)
        let (text, _) = try CleanupCheck.run(FuseConvolutionEpilogue(), printGraph(folded))
        let fused = try parseGraph(text)
        #expect(printGraph(fused) == text, "nested regions round-trip through the text format")
        let outer = try #require(fused.nodes.first { $0.fusionKind == .convolutionEpilogue })
        #expect(outer.region?.nodes.first?.region?.nodes.map(\.op.name) == ["upsample_nearest", "pad", "conv2d"])
        try CleanupCheck.expectEquivalent(try parseGraph(input), fused)
    }
}
