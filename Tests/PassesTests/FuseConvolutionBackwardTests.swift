import Testing
@testable import GraphIR
@testable import Passes

/// `fuse-conv-backward`: golden text of a plain pair and of a pair of `fuse-conv-input` chains, the pairs it
/// must leave alone, and the interpreter's agreement bit for bit.
@Suite struct FuseConvolutionBackwardTests {
    /// The weight gradient comes first in the graph here; the fused node takes its place, data gradient first
    /// in the region (arguments gy, w, x; results gx, gw).
    @Test func pairsDataAndWeightGradients() throws {
        let (text, statistics) = try CleanupCheck.run(FuseConvolutionBackward(), """
            graph g {
              input %x : f32[2, 3, 6, 6]
              input %w : f32[4, 3, 3, 3]
              input %gy : f32[2, 4, 4, 4]
              %0 = conv2d_backward_weight(%x, %gy) {stride = [1, 1], pad = [0, 0, 0, 0], kernel = [3, 3]} : f32[4, 3, 3, 3]
              %1 = neg(%0) : f32[4, 3, 3, 3]
              %2 = conv2d_backward_input(%gy, %w) {stride = [1, 1], pad = [0, 0, 0, 0], input_shape = [2, 3, 6, 6]} : f32[2, 3, 6, 6]
              output gw = %1
              output gx = %2
            }
            """)
        #expect(statistics["pairs"] == 1 && statistics["gathered-pairs"] == 0)
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[2, 3, 6, 6]
              input %w : f32[4, 3, 3, 3]
              input %gy : f32[2, 4, 4, 4]
              %0, %1 = fused(%gy, %w, %x) {kind = conv2d_backward} : f32[2, 3, 6, 6], f32[4, 3, 3, 3] {
                input %a0 : f32[2, 4, 4, 4]
                input %a1 : f32[4, 3, 3, 3]
                %0 = conv2d_backward_input(%a0, %a1) {stride = [1, 1], pad = [0, 0, 0, 0], input_shape = [2, 3, 6, 6]} : f32[2, 3, 6, 6]
                input %a2 : f32[2, 3, 6, 6]
                %1 = conv2d_backward_weight(%a2, %a0) {stride = [1, 1], pad = [0, 0, 0, 0], kernel = [3, 3]} : f32[4, 3, 3, 3]
                output r0 = %0
                output r1 = %1
              }
              %2 = neg(%1) : f32[4, 3, 3, 3]
              output gw = %2
              output gx = %0
            }
            """))
    }

    /// After `fuse-conv-input`, each gradient is a gathered chain; the pair nests both, and round-trips.
    @Test func pairsGatheredChains() throws {
        var statistics = PassStatistics()
        let chains = try FuseConvolutionInput().run(try parseGraph(FuseConvolutionInputTests.step), statistics: &statistics)
        let (text, pairStatistics) = try CleanupCheck.run(FuseConvolutionBackward(), printGraph(chains))
        #expect(pairStatistics["pairs"] == 1 && pairStatistics["gathered-pairs"] == 1)
        let paired = try parseGraph(text)
        #expect(printGraph(paired) == text, "nested regions round-trip through the text format")
        let node = try #require(paired.nodes.first { $0.fusionKind == .convolutionBackward })
        #expect(node.region?.nodes.map(\.fusionKind) == [.gatheredDataGradient, .gatheredWeightGradient])
        try CleanupCheck.expectEquivalent(try parseGraph(FuseConvolutionInputTests.step), paired)
    }

    /// Gradients of different output gradients, a weight gradient whose input is computed after the data
    /// gradient (and after which it would have to sit), and shapes of different convolutions stay apart.
    @Test func leavesWhatCannotPair() throws {
        let text = """
            graph g {
              input %x : f32[1, 3, 6, 6]
              input %w : f32[4, 3, 3, 3]
              input %gy : f32[1, 4, 4, 4]
              input %gz : f32[1, 4, 4, 4]
              input %w5 : f32[4, 3, 3, 3]
              %0 = conv2d_backward_input(%gy, %w) {stride = [1, 1], pad = [0, 0, 0, 0], input_shape = [1, 3, 6, 6]} : f32[1, 3, 6, 6]
              %1 = conv2d_backward_weight(%x, %gz) {stride = [1, 1], pad = [0, 0, 0, 0], kernel = [3, 3]} : f32[4, 3, 3, 3]
              %2 = neg(%0) : f32[1, 3, 6, 6]
              %3 = conv2d_backward_weight(%2, %gy) {stride = [1, 1], pad = [0, 0, 0, 0], kernel = [3, 3]} : f32[4, 3, 3, 3]
              %4 = conv2d_backward_input(%gz, %w5) {stride = [1, 1], pad = [1, 1, 1, 1], input_shape = [1, 3, 4, 4]} : f32[1, 3, 4, 4]
              output a = %0
              output b = %1
              output c = %3
              output d = %4
            }
            """
        let (result, statistics) = try CleanupCheck.run(FuseConvolutionBackward(), text)
        #expect(statistics["pairs"] == 0)
        #expect(result == printGraph(try parseGraph(text)))
    }
}
