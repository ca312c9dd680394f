import Testing
@testable import GraphIR
@testable import Passes

/// `fuse-conv-input`: golden text of the three chains it folds (a convolution, its weight gradient and its
/// input gradient reading through nearest upsampling and a pad), the chains it must leave alone, and the
/// interpreter's agreement bit for bit (a region computes what its nodes computed).
@Suite struct FuseConvolutionInputTests {
    static let step = """
            graph g {
              input %x : f32[1, 2, 3, 3]
              input %w : f32[4, 2, 3, 3]
              input %b : f32[4]
              input %gy : f32[1, 4, 6, 6]
              %0 = upsample_nearest(%x) {scale = [2, 2]} : f32[1, 2, 6, 6]
              %1 = pad(%0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 8, 8]
              %2 = conv2d(%1, %w, %b) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, 4, 6, 6]
              %3 = conv2d_backward_weight(%1, %gy) {stride = [1, 1], pad = [0, 0, 0, 0], kernel = [3, 3]} : f32[4, 2, 3, 3]
              %4 = conv2d_backward_input(%gy, %w) {stride = [1, 1], pad = [0, 0, 0, 0], input_shape = [1, 2, 8, 8]} : f32[1, 2, 8, 8]
              %5 = pad_backward(%4) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 6, 6]
              %6 = upsample_nearest_backward(%5) {scale = [2, 2]} : f32[1, 2, 3, 3]
              output y = %2
              output gw = %3
              output gx = %6
            }
            """

    @Test func foldsUpsamplingAndPaddingIntoConvolutionAndGradients() throws {
        var (text, statistics) = try CleanupCheck.run(FuseConvolutionInput(), Self.step)
        #expect(statistics["convolutions"] == 1 && statistics["weight-gradients"] == 1 && statistics["input-gradients"] == 1)
        // The forward's upsample and pad stay for dce (other nodes might read them); here nothing does.
        text = printGraph(try DeadCodeElimination().run(try parseGraph(text), statistics: &statistics))
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[1, 2, 3, 3]
              input %w : f32[4, 2, 3, 3]
              input %b : f32[4]
              input %gy : f32[1, 4, 6, 6]
              %0 = fused(%x, %w, %b) {kind = conv2d} : f32[1, 4, 6, 6] {
                input %a0 : f32[1, 2, 3, 3]
                %0 = upsample_nearest(%a0) {scale = [2, 2]} : f32[1, 2, 6, 6]
                %1 = pad(%0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 8, 8]
                input %a1 : f32[4, 2, 3, 3]
                input %a2 : f32[4]
                %2 = conv2d(%1, %a1, %a2) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, 4, 6, 6]
                output r0 = %2
              }
              %1 = fused(%x, %gy) {kind = conv2d_backward_weight} : f32[4, 2, 3, 3] {
                input %a0 : f32[1, 2, 3, 3]
                %0 = upsample_nearest(%a0) {scale = [2, 2]} : f32[1, 2, 6, 6]
                %1 = pad(%0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 8, 8]
                input %a1 : f32[1, 4, 6, 6]
                %2 = conv2d_backward_weight(%1, %a1) {stride = [1, 1], pad = [0, 0, 0, 0], kernel = [3, 3]} : f32[4, 2, 3, 3]
                output r0 = %2
              }
              %2 = fused(%gy, %w) {kind = conv2d_backward_input} : f32[1, 2, 3, 3] {
                input %a0 : f32[1, 4, 6, 6]
                input %a1 : f32[4, 2, 3, 3]
                %0 = conv2d_backward_input(%a0, %a1) {stride = [1, 1], pad = [0, 0, 0, 0], input_shape = [1, 2, 8, 8]} : f32[1, 2, 8, 8]
                %1 = pad_backward(%0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 6, 6]
                %2 = upsample_nearest_backward(%1) {scale = [2, 2]} : f32[1, 2, 3, 3]
                output r0 = %2
              }
              output y = %0
              output gw = %1
              output gx = %2
            }
            """))
    }

    /// A pad alone before a convolution with 4 output channels (direct loops in the backend); an input
    /// gradient whose padded gradient is also an output; an upsampling read by something other than a pad or
    /// convolution.
    @Test func leavesChainsItCannotFold() throws {
        let text = """
            graph g {
              input %x : f32[1, 2, 3, 3]
              input %w : f32[4, 2, 3, 3]
              input %gy : f32[1, 4, 4, 4]
              input %gz : f32[1, 4, 6, 6]
              %0 = pad(%x) {mode = reflect, pad = [2, 2, 2, 2]} : f32[1, 2, 7, 7]
              %1 = conv2d(%0, %w) {stride = [2, 2], pad = [0, 0, 0, 0]} : f32[1, 4, 3, 3]
              %2 = conv2d_backward_input(%gz, %w) {stride = [1, 1], pad = [0, 0, 0, 0], input_shape = [1, 2, 8, 8]} : f32[1, 2, 8, 8]
              %3 = pad_backward(%2) {mode = zero, pad = [1, 1, 1, 1]} : f32[1, 2, 6, 6]
              %4 = upsample_nearest_backward(%3) {scale = [2, 2]} : f32[1, 2, 3, 3]
              %5 = upsample_nearest(%x) {scale = [2, 2]} : f32[1, 2, 6, 6]
              %6 = relu(%5) : f32[1, 2, 6, 6]
              output y = %1
              output gx = %4
              output padded = %3
              output z = %6
            }
            """
        let (result, statistics) = try CleanupCheck.run(FuseConvolutionInput(), text)
        #expect(statistics["convolutions"] == 0 && statistics["input-gradients"] == 0)
        #expect(result == printGraph(try parseGraph(text)))
    }

    /// The chains without a pad (upsampling straight into a zero-padded convolution) fold too.
    @Test func foldsUpsamplingWithoutPad() throws {
        let (_, statistics) = try CleanupCheck.run(FuseConvolutionInput(), """
            graph g {
              input %x : f32[2, 3, 4, 5]
              input %w : f32[2, 3, 3, 3]
              input %gy : f32[2, 2, 8, 10]
              %0 = upsample_nearest(%x) {scale = [2, 2]} : f32[2, 3, 8, 10]
              %1 = conv2d(%0, %w) {stride = [1, 1], pad = [1, 1, 1, 1]} : f32[2, 2, 8, 10]
              %2 = conv2d_backward_input(%gy, %w) {stride = [1, 1], pad = [1, 1, 1, 1], input_shape = [2, 3, 8, 10]} : f32[2, 3, 8, 10]
              %3 = upsample_nearest_backward(%2) {scale = [2, 2]} : f32[2, 3, 4, 5]
              output y = %1
              output gx = %3
            }
            """)
        #expect(statistics["convolutions"] == 1 && statistics["input-gradients"] == 1)
    }

    /// A pad alone folds where the backend would copy columns anyway (a small plane); a 40×40 stride-1
    /// plane keeps its pad, which the backend's shifted GEMMs read in place.
    @Test func foldsALonePadOnlyWhereColumnsAreCopiedAnyway() throws {
        var (text, statistics) = try CleanupCheck.run(FuseConvolutionInput(), """
            graph g {
              input %x : f32[1, 2, 6, 6]
              input %w : f32[8, 2, 3, 3]
              input %gy : f32[1, 8, 6, 6]
              input %big : f32[1, 2, 40, 40]
              input %wb : f32[8, 2, 3, 3]
              %0 = pad(%x) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 8, 8]
              %1 = conv2d(%0, %w) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, 8, 6, 6]
              %2 = conv2d_backward_input(%gy, %w) {stride = [1, 1], pad = [0, 0, 0, 0], input_shape = [1, 2, 8, 8]} : f32[1, 2, 8, 8]
              %3 = pad_backward(%2) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 6, 6]
              %4 = pad(%big) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 42, 42]
              %5 = conv2d(%4, %wb) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, 8, 40, 40]
              output y = %1
              output gx = %3
              output large = %5
            }
            """)
        #expect(statistics["convolutions"] == 1 && statistics["input-gradients"] == 1)
        text = printGraph(try DeadCodeElimination().run(try parseGraph(text), statistics: &statistics))
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[1, 2, 6, 6]
              input %w : f32[8, 2, 3, 3]
              input %gy : f32[1, 8, 6, 6]
              input %big : f32[1, 2, 40, 40]
              input %wb : f32[8, 2, 3, 3]
              %0 = fused(%x, %w) {kind = conv2d} : f32[1, 8, 6, 6] {
                input %a0 : f32[1, 2, 6, 6]
                %0 = pad(%a0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 8, 8]
                input %a1 : f32[8, 2, 3, 3]
                %1 = conv2d(%0, %a1) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, 8, 6, 6]
                output r0 = %1
              }
              %1 = fused(%gy, %w) {kind = conv2d_backward_input} : f32[1, 2, 6, 6] {
                input %a0 : f32[1, 8, 6, 6]
                input %a1 : f32[8, 2, 3, 3]
                %0 = conv2d_backward_input(%a0, %a1) {stride = [1, 1], pad = [0, 0, 0, 0], input_shape = [1, 2, 8, 8]} : f32[1, 2, 8, 8]
                %1 = pad_backward(%0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 6, 6]
                output r0 = %1
              }
              %2 = pad(%big) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 42, 42]
              %3 = conv2d(%2, %wb) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, 8, 40, 40]
              output y = %0
              output gx = %1
              output large = %3
            }
            """))
    }

    /// MUNIT's residual convolutions at 128×128 crops (3×3, stride 1, 32×32 planes, 64 channels): too large
    /// for the column rule, but Winograd in the backend reads through the pad, so the convolution, its weight
    /// gradient and its data gradient all fold their lone reflect pad. With 16 channels (im2col or shifted
    /// GEMMs, not Winograd) the pad and its gradient stay.
    @Test func foldsALonePadIntoWinogradConvolutions() throws {
        // Results numbered from `k` (the text format numbers them), arguments and outputs named by `s`.
        func residual(_ c: Int, _ s: String, _ k: Int) -> String {
            """
              input %x\(s) : f32[1, \(c), 32, 32]
              input %w\(s) : f32[\(c), \(c), 3, 3]
              input %gy\(s) : f32[1, \(c), 32, 32]
              %\(k) = pad(%x\(s)) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, \(c), 34, 34]
              %\(k + 1) = conv2d(%\(k), %w\(s)) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, \(c), 32, 32]
              %\(k + 2) = conv2d_backward_weight(%\(k), %gy\(s)) {stride = [1, 1], pad = [0, 0, 0, 0], kernel = [3, 3]} : f32[\(c), \(c), 3, 3]
              %\(k + 3) = conv2d_backward_input(%gy\(s), %w\(s)) {stride = [1, 1], pad = [0, 0, 0, 0], input_shape = [1, \(c), 34, 34]} : f32[1, \(c), 34, 34]
              %\(k + 4) = pad_backward(%\(k + 3)) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, \(c), 32, 32]
              output y\(s) = %\(k + 1)
              output gw\(s) = %\(k + 2)
              output gx\(s) = %\(k + 4)
            """
        }
        var (text, statistics) = try CleanupCheck.run(FuseConvolutionInput(), "graph g {\n" + residual(64, "", 0) + "\n" + residual(16, "16", 5) + "\n}")
        #expect(statistics["convolutions"] == 1 && statistics["weight-gradients"] == 1 && statistics["input-gradients"] == 1)
        text = printGraph(try DeadCodeElimination().run(try parseGraph(text), statistics: &statistics))
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[1, 64, 32, 32]
              input %w : f32[64, 64, 3, 3]
              input %gy : f32[1, 64, 32, 32]
              input %x16 : f32[1, 16, 32, 32]
              input %w16 : f32[16, 16, 3, 3]
              input %gy16 : f32[1, 16, 32, 32]
              %0 = fused(%x, %w) {kind = conv2d} : f32[1, 64, 32, 32] {
                input %a0 : f32[1, 64, 32, 32]
                %0 = pad(%a0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 64, 34, 34]
                input %a1 : f32[64, 64, 3, 3]
                %1 = conv2d(%0, %a1) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, 64, 32, 32]
                output r0 = %1
              }
              %1 = fused(%x, %gy) {kind = conv2d_backward_weight} : f32[64, 64, 3, 3] {
                input %a0 : f32[1, 64, 32, 32]
                %0 = pad(%a0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 64, 34, 34]
                input %a1 : f32[1, 64, 32, 32]
                %1 = conv2d_backward_weight(%0, %a1) {stride = [1, 1], pad = [0, 0, 0, 0], kernel = [3, 3]} : f32[64, 64, 3, 3]
                output r0 = %1
              }
              %2 = fused(%gy, %w) {kind = conv2d_backward_input} : f32[1, 64, 32, 32] {
                input %a0 : f32[1, 64, 32, 32]
                input %a1 : f32[64, 64, 3, 3]
                %0 = conv2d_backward_input(%a0, %a1) {stride = [1, 1], pad = [0, 0, 0, 0], input_shape = [1, 64, 34, 34]} : f32[1, 64, 34, 34]
                %1 = pad_backward(%0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 64, 32, 32]
                output r0 = %1
              }
              %3 = pad(%x16) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 16, 34, 34]
              %4 = conv2d(%3, %w16) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, 16, 32, 32]
              %5 = conv2d_backward_weight(%3, %gy16) {stride = [1, 1], pad = [0, 0, 0, 0], kernel = [3, 3]} : f32[16, 16, 3, 3]
              %6 = conv2d_backward_input(%gy16, %w16) {stride = [1, 1], pad = [0, 0, 0, 0], input_shape = [1, 16, 34, 34]} : f32[1, 16, 34, 34]
              %7 = pad_backward(%6) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 16, 32, 32]
              output y = %0
              output gw = %1
              output gx = %2
              output y16 = %4
              output gw16 = %5
              output gx16 = %7
            }
            """))
    }

    /// The Winograd branch of the rule at its edges: both channel counts must reach the minimum, the kernel
    /// be 3×3 and the stride 1 (a large stride-1 plane otherwise keeps its pad).
    @Test func foldsALonePadWhereWinogradReadsIt() {
        let m = GatheredConvolutionFusion.winogradMinimumChannels
        let cases: [(kernel: [Int], c: Int, o: Int, folds: Bool)] = [
            ([3, 3], m, m, true), ([3, 3], m - 1, 2 * m, false), ([3, 3], 2 * m, m - 1, false), ([5, 5], 2 * m, 2 * m, false),
            ([1, 1], 2 * m, 2 * m, false),
        ]
        for c in cases {
            #expect(FuseConvolutionInput.foldsPadAlone(kernel: c.kernel, stride: [1, 1], padded: [1, c.c, 34, 34],
                                                       outputChannels: c.o, outputRows: 32) == c.folds, "\(c)")
        }
    }
}
