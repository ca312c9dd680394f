import GraphIR
import Passes
import Testing
@testable import LLVMBackend

/// `fuse-conv-input`'s fused convolutions (upsampling and padding folded into the convolution's indexing,
/// computed per output phase with merged taps) against the interpreter running the unfused chain.
@Suite struct FusedConvolutionKernelTests {
    struct Chain {
        var x: [Int], out: Int, scale: [Int], mode: PadMode?, pad: [Int], kernel: [Int]
        var stride = [1, 1], convPad = [0, 0, 0, 0]
        var dtype = DType.f32
    }

    static let chains = [
        // MUNIT's decoder: ×2, reflect 2, 5×5.
        Chain(x: [2, 3, 5, 6], out: 6, scale: [2, 2], mode: .reflect, pad: [2, 2, 2, 2], kernel: [5, 5]),
        Chain(x: [1, 4, 4, 3], out: 5, scale: [2, 2], mode: .replicate, pad: [1, 1, 1, 1], kernel: [3, 3]),
        Chain(x: [1, 2, 3, 5], out: 6, scale: [3, 2], mode: .zero, pad: [1, 2, 0, 1], kernel: [3, 4], stride: [1, 2],
              convPad: [1, 0, 2, 1]),
        Chain(x: [2, 3, 4, 4], out: 5, scale: [2, 2], mode: nil, pad: [0, 0, 0, 0], kernel: [3, 3], convPad: [1, 1, 1, 1]),
        Chain(x: [1, 3, 6, 6], out: 4, scale: [2, 2], mode: .reflect, pad: [3, 3, 3, 3], kernel: [7, 7]),
        Chain(x: [1, 2, 1, 1], out: 3, scale: [2, 2], mode: .replicate, pad: [1, 1, 1, 1], kernel: [3, 3]),
        Chain(x: [2, 2, 3, 4], out: 3, scale: [2, 2], mode: .reflect, pad: [1, 2, 2, 1], kernel: [4, 2], stride: [2, 1], dtype: .f64),
        // A pad alone (no upsampling), where the backend would im2col anyway: small planes, strides.
        Chain(x: [2, 3, 7, 6], out: 6, scale: [1, 1], mode: .reflect, pad: [1, 1, 1, 1], kernel: [3, 3]),
        Chain(x: [1, 4, 9, 8], out: 5, scale: [1, 1], mode: .zero, pad: [1, 2, 1, 0], kernel: [4, 4], stride: [2, 2]),
        Chain(x: [2, 2, 6, 7], out: 5, scale: [1, 1], mode: .replicate, pad: [2, 2, 2, 2], kernel: [3, 3], stride: [2, 1],
              convPad: [1, 0, 0, 1]),
        // One output channel: the products degenerate to a single row.
        Chain(x: [1, 5, 5, 5], out: 1, scale: [2, 2], mode: .reflect, pad: [2, 2, 2, 2], kernel: [5, 5]),
        // MUNIT's discriminators' last convolutions (4×4, stride 2, reflect 1) on 8×8, 4×4 and 2×2 planes: widths
        // N·positions of 16, 8, 1 and 2, skinny products (`SkinnyProduct`); output channels that leave a
        // remainder of rows, float64.
        Chain(x: [1, 6, 8, 8], out: 10, scale: [1, 1], mode: .reflect, pad: [1, 1, 1, 1], kernel: [4, 4], stride: [2, 2]),
        Chain(x: [2, 5, 4, 4], out: 9, scale: [1, 1], mode: .reflect, pad: [1, 1, 1, 1], kernel: [4, 4], stride: [2, 2]),
        Chain(x: [1, 7, 2, 2], out: 12, scale: [1, 1], mode: .reflect, pad: [1, 1, 1, 1], kernel: [4, 4], stride: [2, 2]),
        Chain(x: [2, 3, 2, 2], out: 5, scale: [1, 1], mode: .reflect, pad: [1, 1, 1, 1], kernel: [4, 4], stride: [2, 2], dtype: .f64),
        // 3×3 taps: depths C·9 (45, 27) leave a scalar rest after the vectors of either width.
        Chain(x: [1, 5, 6, 6], out: 6, scale: [1, 1], mode: .reflect, pad: [1, 1, 1, 1], kernel: [3, 3], stride: [2, 2]),
        Chain(x: [1, 3, 4, 4], out: 7, scale: [1, 1], mode: .reflect, pad: [1, 1, 1, 1], kernel: [3, 3], stride: [2, 2], dtype: .f64),
    ]

    static func fuse(_ graph: Graph) throws -> Graph { try fuse(graph, chains: chains.count) }

    static func fuse(_ graph: Graph, chains: Int) throws -> Graph {
        var statistics = PassStatistics()
        let fused = try FuseConvolutionInput().run(graph, statistics: &statistics)
        let kinds = fused.nodes.compactMap(\.fusionKind)
        #expect(kinds.count == 5 * chains, "every chain fuses (3 convolutions, 2 gradients): \(kinds)")
        return try DeadCodeElimination().run(fused, statistics: &statistics)
    }

    @Test func fusedChainsMatchTheInterpreter() throws {
        try BackendHarness.expectParity(Self.backendCases(), tolerance: 1e-4, transform: Self.fuse)
    }

    /// The same with every product a BLAS call, and with skinny products for every chain whose families are
    /// at most 256 wide (several families, upsampling phases stacked into one family's rows), whatever the
    /// default width.
    @Test(arguments: [0, 256]) func skinnyAndBLASProductsMatchTheInterpreter(upTo width: Int) throws {
        try BackendHarness.expectParity(Self.backendCases(), tolerance: 1e-4, template: CompileOptions(skinnyProductsUpToWidth: width),
                                        transform: Self.fuse)
    }

    /// The discriminator-like chains run generated products for all three, and no BLAS call.
    @Test func narrowFamiliesTakeSkinnyProducts() throws {
        let b = GraphBuilder(name: "cases")
        for c in Self.backendCases(Array(Self.chains[11...13])) {
            b.output(c.name, try c.build(b, c.inputs.enumerated().map { b.input("\(c.name).\($0.offset)", $0.element) }))
        }
        let symbols = try Executable(graph: Self.fuse(b.graph, chains: 3), options: CompileOptions()).kernelCalls.map(\.symbol)
        for suffix in ["_skinny", "_skinny_data", "_skinny_weight"] {
            #expect(symbols.contains { $0.hasSuffix(suffix) }, "\(suffix): \(Set(symbols).sorted())")
        }
        #expect(!symbols.contains { $0.hasSuffix("_gemm") }, "\(Set(symbols).sorted())")
    }

    /// Forward, forward with bias and the weighted gradients of each of `chains`.
    static func backendCases(_ chains: [Chain] = chains) -> [BackendCase] {
        var cases: [BackendCase] = []
        for (i, c) in chains.enumerated() {
            let x = TensorType(c.dtype, c.x), w = TensorType(c.dtype, [c.out, c.x[1], c.kernel[0], c.kernel[1]])
            let b = TensorType(c.dtype, [c.out])
            func source(_ builder: GraphBuilder, _ v: ValueID) throws -> ValueID {
                let up = c.scale == [1, 1] ? v : try builder.upsampleNearest(v, scale: c.scale)
                return try c.mode.map { try builder.pad(up, mode: $0, c.pad) } ?? up
            }
            cases.append(BackendCase(name: "forward\(i)", inputs: [x, w]) { b, v in
                try b.conv2d(source(b, v[0]), v[1], stride: c.stride, pad: c.convPad)
            })
            cases.append(BackendCase(name: "forward_bias\(i)", inputs: [x, w, b]) { b, v in
                try b.conv2d(source(b, v[0]), v[1], v[2], stride: c.stride, pad: c.convPad)
            })
            // The gradients weighted by random tensors and summed, so a misplaced element cannot hide in a total.
            cases.append(BackendCase(name: "backward\(i)", inputs: [x, w, x, w]) { b, v in
                let padded = try source(b, v[0])
                let gy = try b.square(b.conv2d(padded, v[1], stride: c.stride, pad: c.convPad))
                let inputShape = b.graph.type(of: padded).shape
                var gx = try b.conv2dBackwardInput(gy, v[1], inputShape: inputShape, stride: c.stride, pad: c.convPad)
                if let mode = c.mode { gx = try b.padBackward(gx, mode: mode, c.pad) }
                if c.scale != [1, 1] { gx = try b.upsampleNearestBackward(gx, scale: c.scale) }
                let gw = try b.conv2dBackwardWeight(padded, gy, kernel: c.kernel, stride: c.stride, pad: c.convPad)
                return try b.add(b.reduceSum(b.mul(gx, v[2]), axes: [0, 1, 2, 3]), b.reduceSum(b.mul(gw, v[3]), axes: [0, 1, 2, 3]))
            })
        }
        return cases
    }

    @Test func upsampledAxesSplitIntoPhases() {
        // ×2 then reflect 2 then 5 taps: even and odd outputs merge taps {0,1}{2,3}{4} and {0}{1,2}{3,4};
        // only the first and last outputs, which reflection makes irregular, need a class of their own.
        let axis = GatherAxis(source: 8, scale: 2, padMode: .reflect, padBefore: 2, padAfter: 2, kernel: 5, outputs: 16)
        let classes = axis.classes()
        #expect(classes.map(\.groups) == [[[0, 1], [2, 3], [4]], [[0], [1, 2], [3, 4]], [[0, 4], [1, 2, 3]]])
        #expect(classes[2].outputs == [0, 15])
        #expect(classes[0].outputs == [2, 4, 6, 8, 10, 12, 14])
        #expect(classes[1].outputs == [1, 3, 5, 7, 9, 11, 13])
        // The two phases read the same cell triples (a−1, a, a+1) but for one each at the ends: one family over
        // their 8 triples, the first from (0, 0, 1) to (6, 7, 7), sharing columns and one stacked product.
        let families = axis.families()
        #expect(families.map { $0.members.map(\.outputs) } == [[classes[0].outputs, classes[1].outputs], [[0, 15]]])
        #expect(families[0].sources.first == [0, 0, 1] && families[0].sources.last == [6, 7, 7] && families[0].sources.count == 8)
        #expect(families[0].slots == [Array(1...7), Array(0...6)])
        #expect(!families[0].ownsEveryPosition(member: 0) && !families[0].ownsEveryPosition(member: 1) && families[1].ownsEveryPosition(member: 0))
        // ×2 of a 3-cell source: the ends (2 groups, triples (1, 0), (1, 2)) and output 1 (2 groups, (0, 1)) would
        // stack over 3 triples for 2 outputs (growth 1.5 > 1.25): apart; the phases' {2, 4} and {3} share (0, 1, 2).
        let small = GatherAxis(source: 3, scale: 2, padMode: .reflect, padBefore: 2, padAfter: 2, kernel: 5, outputs: 6)
        #expect(small.families().map { $0.members.map(\.outputs) } == [[[0, 5]], [[1]], [[2, 4], [3]]])
        // Without upsampling: one class of single taps (the padding only changes which cells they read).
        let plain = GatherAxis(source: 8, padMode: .reflect, padBefore: 1, padAfter: 1, kernel: 3, outputs: 8).classes()
        #expect(plain.count == 1 && plain[0].sources[0] == [1, 0, 1])
    }
}
