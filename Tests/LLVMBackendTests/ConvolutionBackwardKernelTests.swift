import GraphIR
import Passes
import Testing
@testable import LLVMBackend

/// `fuse-conv-backward`'s kernels (a convolution's data and weight gradients in one kernel, gy rearranged
/// once) against the interpreter running the two gradients apart, on every path: gathered chains (the same
/// chains as `FusedConvolutionKernelTests`), shifted GEMMs on the wide grid, im2col, and the sequence
/// fallback (direct data gradient, 1×1 convolution).
@Suite struct ConvolutionBackwardKernelTests {
    static func fuse(_ graph: Graph, expecting pairs: Int) throws -> Graph {
        var statistics = PassStatistics(), fused = graph
        for pass in [FuseConvolutionInput(), FuseConvolutionBackward(), DeadCodeElimination()] as [any Pass] {
            fused = try pass.run(fused, statistics: &statistics)
        }
        let kinds = fused.nodes.compactMap(\.fusionKind)
        #expect(kinds.filter { $0 == .convolutionBackward }.count == pairs, "every case's gradients pair: \(kinds)")
        return fused
    }

    /// gx and gw of one convolution (after `source`), weighted by random tensors and summed.
    static func gradients(_ b: GraphBuilder, _ v: [ValueID], kernel: [Int], stride: [Int] = [1, 1], pad: [Int] = [0, 0, 0, 0],
                          source: (ValueID) throws -> ValueID = { $0 }, sourceBackward: (ValueID) throws -> ValueID = { $0 }) throws -> ValueID {
        let input = try source(v[0])
        let gy = try b.square(b.conv2d(input, v[1], stride: stride, pad: pad))
        let gx = try sourceBackward(b.conv2dBackwardInput(gy, v[1], inputShape: b.graph.type(of: input).shape, stride: stride, pad: pad))
        let gw = try b.conv2dBackwardWeight(input, gy, kernel: kernel, stride: stride, pad: pad)
        return try b.add(b.reduceSum(b.mul(gx, v[2]), axes: [0, 1, 2, 3]), b.reduceSum(b.mul(gw, v[3]), axes: [0, 1, 2, 3]))
    }

    @Test func gatheredPairsMatchTheInterpreter() throws {
        let cases = FusedConvolutionKernelTests.chains.enumerated().map { i, c in
            let x = TensorType(c.dtype, c.x), w = TensorType(c.dtype, [c.out, c.x[1], c.kernel[0], c.kernel[1]])
            return BackendCase(name: "gathered\(i)", inputs: [x, w, x, w]) { b, v in
                try Self.gradients(b, v, kernel: c.kernel, stride: c.stride, pad: c.convPad, source: { x in
                    let up = c.scale == [1, 1] ? x : try b.upsampleNearest(x, scale: c.scale)
                    return try c.mode.map { try b.pad(up, mode: $0, c.pad) } ?? up
                }, sourceBackward: { gx in
                    let unpadded = try c.mode.map { try b.padBackward(gx, mode: $0, c.pad) } ?? gx
                    return c.scale == [1, 1] ? unpadded : try b.upsampleNearestBackward(unpadded, scale: c.scale)
                })
            }
        }
        try BackendHarness.expectParity(cases, tolerance: 1e-4) { try Self.fuse($0, expecting: cases.count) }
    }

    @Test func plainPairsMatchTheInterpreter() throws {
        func plain(_ name: String, _ x: TensorType, _ w: TensorType, stride: [Int] = [1, 1], pad: [Int] = [0, 0, 0, 0]) -> BackendCase {
            BackendCase(name: name, inputs: [x, w, x, w]) { b, v in
                try Self.gradients(b, v, kernel: [w.shape[2], w.shape[3]], stride: stride, pad: pad)
            }
        }
        let cases = [
            // Wide grid: stride 1, unpadded, 32 output rows × 34 columns ≥ 1024, 16 input channels; batch 2,
            // odd sizes.
            plain("wide", .f32(2, 16, 34, 35), .f32(5, 16, 3, 3)),
            plain("wide_f64", .f64(1, 16, 33, 40), .f64(6, 16, 2, 3)),
            // Winograd: 3×3, stride 1, at least 32 channels each side; odd output sizes, the convolution's
            // own zero padding.
            plain("winograd", .f32(2, 32, 7, 6), .f32(33, 32, 3, 3), pad: [1, 0, 0, 1]),
            // im2col: small planes, strides, zero padding.
            plain("im2col", .f32(2, 3, 9, 7), .f32(6, 3, 3, 3)),
            plain("im2col_strided", .f32(2, 4, 9, 8), .f32(7, 4, 4, 3), stride: [2, 1], pad: [1, 0, 2, 1]),
            // The sequence fallback: a direct data gradient (≤ 4 output channels) beside a wide-grid weight
            // gradient, and a 1×1 convolution.
            plain("direct", .f32(1, 5, 36, 34), .f32(3, 5, 3, 3)),
            plain("pointwise", .f32(2, 4, 5, 6), .f32(8, 4, 1, 1)),
        ]
        try BackendHarness.expectParity(cases, tolerance: 1e-4) { try Self.fuse($0, expecting: cases.count) }
    }

    /// Which path each pair takes: the shared ones where both gradients would take the same path alone.
    @Test func pairsShareTheirPassesOverGy() throws {
        func path(_ x: [Int], _ w: [Int], stride: [Int] = [1, 1], pad: [Int] = [0, 0, 0, 0], upsample: Bool = false) throws -> String {
            let b = GraphBuilder(name: "g")
            let v = [b.input("x", TensorType(.f32, x)), b.input("w", TensorType(.f32, w)), b.input("x2", TensorType(.f32, x)),
                     b.input("w2", TensorType(.f32, w))]
            b.output("y", try Self.gradients(b, v, kernel: [w[2], w[3]], stride: stride, pad: pad,
                                             source: { upsample ? try b.pad(b.upsampleNearest($0), mode: .reflect, [1, 1, 1, 1]) : $0 },
                                             sourceBackward: { upsample ? try b.upsampleNearestBackward(b.padBackward($0, mode: .reflect, [1, 1, 1, 1])) : $0 }))
            let fused = try Self.fuse(b.graph, expecting: 1)
            let node = try #require(fused.nodes.first { $0.fusionKind == .convolutionBackward })
            guard case .convolutionBackward(let fusion)? = try node.fusedRegion() else { return "not matched" }
            switch ConvolutionBackward(fusion).path {
            case .winograd: return "winograd"
            case .gathered: return "gathered"
            case .wideGrid: return "wide"
            case .im2col: return "im2col"
            case .sequence: return "sequence"
            }
        }
        #expect(try path([1, 8, 6, 6], [16, 8, 3, 3], upsample: true) == "gathered")
        #expect(try path([1, 16, 34, 34], [16, 16, 3, 3]) == "wide")
        #expect(try path([1, 32, 10, 10], [32, 32, 3, 3]) == "winograd")
        #expect(try path([1, 32, 6, 6], [32, 32, 3, 3], upsample: true) == "gathered", "upsampled: gathered, not Winograd")
        #expect(try path([1, 8, 12, 12], [16, 8, 3, 3], stride: [2, 2], pad: [1, 1, 1, 1]) == "im2col")
        #expect(try path([1, 8, 34, 34], [3, 8, 3, 3]) == "sequence")
    }
}
