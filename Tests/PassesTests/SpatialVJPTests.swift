import Testing
@testable import GraphIR
@testable import Passes

/// VJP rules of the contractions (conv2d, matmul, linear) and the spatial ops (pad, upsampling, pooling):
/// finite-difference gradient checks across the attribute space, adjoint identities for the backward ops'
/// kernels, and PyTorch's float64 gradients.
@Suite struct SpatialVJPTests {
    // MARK: Gradient checks

    /// One convolution geometry: input [N, C, H, W], O output channels, kernel, stride, pad [l, r, t, b].
    struct ConvCase: Sendable, CustomTestStringConvertible {
        var input: [Int], outChannels: Int, kernel: [Int], stride: [Int], pad: [Int], bias: Bool
        var testDescription: String { "x\(input) k\(kernel) s\(stride) pad\(pad) O\(outChannels)\(bias ? " +bias" : "")" }
        var weight: [Int] { [outChannels, input[1]] + kernel }
    }

    static let convCases: [ConvCase] = [
        ConvCase(input: [2, 3, 4, 5], outChannels: 2, kernel: [1, 1], stride: [1, 1], pad: [0, 0, 0, 0], bias: true),
        ConvCase(input: [2, 2, 5, 6], outChannels: 3, kernel: [3, 3], stride: [1, 1], pad: [1, 1, 1, 1], bias: true),
        // Unequal pads, and stride 2 leaving the last input row unread.
        ConvCase(input: [1, 2, 7, 6], outChannels: 2, kernel: [3, 3], stride: [2, 2], pad: [0, 2, 1, 0], bias: false),
        ConvCase(input: [2, 2, 7, 9], outChannels: 2, kernel: [4, 4], stride: [2, 2], pad: [1, 1, 1, 1], bias: true),
        ConvCase(input: [1, 2, 6, 7], outChannels: 2, kernel: [5, 5], stride: [1, 1], pad: [2, 1, 0, 2], bias: false),
        ConvCase(input: [1, 1, 8, 7], outChannels: 2, kernel: [7, 7], stride: [1, 1], pad: [3, 3, 3, 3], bias: true),
        ConvCase(input: [2, 2, 6, 5], outChannels: 2, kernel: [3, 2], stride: [2, 1], pad: [0, 1, 2, 0], bias: true),
    ]

    @Test(arguments: convCases)
    func conv2dGradcheck(_ c: ConvCase) throws {
        let shapes = [c.input, c.weight] + (c.bias ? [[c.outChannels]] : [])
        try VJPCheck.gradcheck("conv2d \(c.testDescription)", shapes) { b, p in
            try b.conv2d(p[0], p[1], c.bias ? p[2] : nil, stride: c.stride, pad: c.pad)
        }
    }

    @Test func matmulAndLinearGradcheck() throws {
        try VJPCheck.gradcheck("matmul", [[3, 4], [4, 5]]) { b, p in try b.matmul(p[0], p[1]) }
        try VJPCheck.gradcheck("linear+bias", [[3, 5], [4, 5], [4]]) { b, p in try b.linear(p[0], p[1], p[2]) }
        try VJPCheck.gradcheck("linear", [[2, 3], [6, 3]]) { b, p in try b.linear(p[0], p[1]) }
    }

    @Test(arguments: PadMode.allCases)
    func padGradcheck(_ mode: PadMode) throws {
        // Pads up to one less than the axis, different on every side, so reflect folds cells back twice.
        for pad in [[1, 2, 2, 1], [2, 4, 0, 3]] {
            try VJPCheck.gradcheck("pad \(mode) \(pad)", [[2, 2, 4, 5]]) { b, p in try b.pad(p[0], mode: mode, pad) }
        }
    }

    @Test func upsampleNearestGradcheck() throws {
        for scale in [[2, 2], [3, 1], [1, 2]] {
            try VJPCheck.gradcheck("upsample \(scale)", [[2, 2, 3, 4]]) { b, p in try b.upsampleNearest(p[0], scale: scale) }
        }
    }

    @Test(arguments: [true, false])
    func avgPoolGradcheck(countIncludePad: Bool) throws {
        let geometries: [(kernel: [Int], stride: [Int], pad: [Int])] = [
            ([3, 3], [2, 2], [1, 1, 1, 1]),  // MUNIT's discriminator downsampling
            ([2, 3], [1, 2], [1, 0, 0, 1]),
            ([4, 4], [3, 3], [2, 1, 0, 2]),
            ([1, 1], [2, 2], [0, 0, 0, 0]),
        ]
        for g in geometries {
            try VJPCheck.gradcheck("avg_pool2d \(g) include_pad \(countIncludePad)", [[2, 2, 7, 6]]) { b, p in
                try b.avgPool2d(p[0], kernel: g.kernel, stride: g.stride, pad: g.pad, countIncludePad: countIncludePad)
            }
        }
    }

    @Test func maxPoolGradcheck() throws {
        // Random values have no ties; a perturbation that changes a window's winner is a kink the checker skips.
        let geometries: [(kernel: [Int], stride: [Int], pad: [Int])] = [
            ([2, 2], [2, 2], [0, 0, 0, 0]), ([3, 3], [2, 2], [1, 1, 1, 1]), ([3, 2], [1, 2], [1, 0, 1, 1]),
        ]
        for g in geometries {
            try VJPCheck.gradcheck("max_pool2d \(g)", [[2, 2, 7, 6]]) { b, p in
                try b.maxPool2d(p[0], kernel: g.kernel, stride: g.stride, pad: g.pad)
            }
        }
    }

    @Test func globalAvgPoolGradcheck() throws {
        try VJPCheck.gradcheck("global_avg_pool", [[2, 3, 5, 3]]) { b, p in try b.globalAvgPool(p[0]) }
    }

    @Test func conv2dBlockChainGradcheck() throws {
        // MUNIT's Conv2dBlock order: explicit reflect padding, an unpadded strided convolution, AdaIN. (A
        // convolution bias here would have an exactly zero gradient, which finite differences only see as noise.)
        try VJPCheck.gradcheck("pad → conv2d → adain", [[2, 2, 7, 6], [3, 2, 4, 4], [2, 3], [2, 3]]) { b, p in
            let y = try b.conv2d(b.pad(p[0], mode: .reflect, [1, 1, 1, 1]), p[1], stride: [2, 2])
            return try b.adain(y, weight: p[2], bias: p[3])
        }
    }

    // MARK: Backward kernels against adjoint identities

    @Test(arguments: convCases)
    func conv2dBackwardOpsAreAdjoints(_ c: ConvCase) throws {
        // conv2d is bilinear: ⟨conv2d(x, w), gy⟩ = ⟨x, backward_input(gy, w)⟩ = ⟨w, backward_weight(x, gy)⟩.
        let x = VJPCheck.random(c.input, seed: 1), w = VJPCheck.random(c.weight, seed: 2)
        let y = try VJPCheck.run([x, w]) { b, v in try b.conv2d(v[0], v[1], stride: c.stride, pad: c.pad) }
        let gy = VJPCheck.random(y.shape, seed: 3)
        let gx = try VJPCheck.run([gy, w]) { b, v in
            try b.conv2dBackwardInput(v[0], v[1], inputShape: c.input, stride: c.stride, pad: c.pad)
        }
        let gw = try VJPCheck.run([x, gy]) { b, v in
            try b.conv2dBackwardWeight(v[0], v[1], kernel: c.kernel, stride: c.stride, pad: c.pad)
        }
        let reference = VJPCheck.dot(y, gy)
        #expect(Swift.abs(VJPCheck.dot(x, gx) - reference) <= 1e-12 * Swift.max(1, Swift.abs(reference)))
        #expect(Swift.abs(VJPCheck.dot(w, gw) - reference) <= 1e-12 * Swift.max(1, Swift.abs(reference)))
    }

    @Test func conv2dBackwardInputLeavesUnreadRowsZero() throws {
        // Kernel 2, stride 3 on a 5×5 input reads rows/columns 0, 1, 3, 4; row and column 2 get no gradient.
        let gx = try VJPCheck.run([VJPCheck.random([1, 1, 2, 2], seed: 4, in: 1...2), VJPCheck.random([1, 1, 2, 2], seed: 5, in: 1...2)]) { b, v in
            try b.conv2dBackwardInput(v[0], v[1], inputShape: [1, 1, 5, 5], stride: [3, 3])
        }
        for row in 0..<5 {
            for col in 0..<5 {
                let value = gx.scalars[row * 5 + col]
                #expect(row == 2 || col == 2 ? value == 0 : value > 0, "gx[\(row), \(col)] = \(value)")
            }
        }
    }

    @Test(arguments: PadMode.allCases)
    func padBackwardIsTheAdjointOfPad(_ mode: PadMode) throws {
        for pad in [[1, 2, 2, 1], [3, 0, 1, 3], [0, 0, 0, 0]] {
            let x = VJPCheck.random([2, 3, 4, 5], seed: 6)
            let y = try VJPCheck.run([x]) { b, v in try b.pad(v[0], mode: mode, pad) }
            let gy = VJPCheck.random(y.shape, seed: 7)
            let gx = try VJPCheck.run([gy]) { b, v in try b.padBackward(v[0], mode: mode, pad) }
            #expect(Swift.abs(VJPCheck.dot(y, gy) - VJPCheck.dot(x, gx)) <= 1e-12, "\(mode) \(pad)")
        }
    }

    @Test func padBackwardHandWorked() throws {
        // One row [a b c] padded left 2, right 1: reflect reads c b [a b c] b, so gy [1 2 | 10 20 30 | 3]
        // gives a 10, b 20 + 2 + 3, c 30 + 1; replicate reads a a [a b c] c; zero just crops.
        let gy = Tensor(.f64, shape: [1, 1, 1, 6], scalars: [1, 2, 10, 20, 30, 3])
        let expected: [PadMode: [Double]] = [.reflect: [10, 25, 31], .replicate: [13, 20, 33], .zero: [10, 20, 30]]
        for (mode, values) in expected {
            let gx = try VJPCheck.run([gy]) { b, v in try b.padBackward(v[0], mode: mode, [2, 1, 0, 0]) }
            #expect(gx.scalars == values, "\(mode)")
        }
    }

    @Test func upsampleBackwardIsTheAdjointOfUpsample() throws {
        for scale in [[2, 2], [3, 2], [1, 4]] {
            let x = VJPCheck.random([2, 2, 3, 5], seed: 8)
            let y = try VJPCheck.run([x]) { b, v in try b.upsampleNearest(v[0], scale: scale) }
            let gy = VJPCheck.random(y.shape, seed: 9)
            let gx = try VJPCheck.run([gy]) { b, v in try b.upsampleNearestBackward(v[0], scale: scale) }
            #expect(Swift.abs(VJPCheck.dot(y, gy) - VJPCheck.dot(x, gx)) <= 1e-12, "\(scale)")
        }
    }

    @Test(arguments: [true, false])
    func avgPoolBackwardIsTheAdjointOfAvgPool(countIncludePad: Bool) throws {
        let geometries: [(kernel: [Int], stride: [Int], pad: [Int])] = [
            ([3, 3], [2, 2], [1, 1, 1, 1]), ([2, 3], [1, 2], [1, 0, 0, 1]), ([4, 4], [3, 3], [2, 1, 0, 2]), ([5, 3], [1, 1], [1, 1, 2, 2]),
        ]
        for g in geometries {
            let x = VJPCheck.random([2, 2, 7, 6], seed: 10)
            let y = try VJPCheck.run([x]) { b, v in
                try b.avgPool2d(v[0], kernel: g.kernel, stride: g.stride, pad: g.pad, countIncludePad: countIncludePad)
            }
            let gy = VJPCheck.random(y.shape, seed: 11)
            let gx = try VJPCheck.run([gy]) { b, v in
                try b.avgPool2dBackward(v[0], inputShape: x.shape, kernel: g.kernel, stride: g.stride, pad: g.pad,
                                        countIncludePad: countIncludePad)
            }
            #expect(Swift.abs(VJPCheck.dot(y, gy) - VJPCheck.dot(x, gx)) <= 1e-12, "\(g)")
        }
    }

    @Test func maxPoolBackwardIsTheAdjointOfMaxPool() throws {
        // Each output is one input cell, so ⟨max_pool(x), gy⟩ = ⟨x, max_pool_backward(x, gy)⟩ exactly.
        let geometries: [(kernel: [Int], stride: [Int], pad: [Int])] = [
            ([2, 2], [2, 2], [0, 0, 0, 0]), ([3, 3], [2, 2], [1, 1, 1, 1]), ([3, 2], [1, 2], [1, 0, 1, 1]), ([3, 3], [1, 1], [0, 1, 1, 0]),
        ]
        for g in geometries {
            let x = VJPCheck.random([2, 2, 7, 6], seed: 12)
            let y = try VJPCheck.run([x]) { b, v in try b.maxPool2d(v[0], kernel: g.kernel, stride: g.stride, pad: g.pad) }
            let gy = VJPCheck.random(y.shape, seed: 13)
            let gx = try VJPCheck.run([x, gy]) { b, v in
                try b.maxPool2dBackward(v[0], v[1], kernel: g.kernel, stride: g.stride, pad: g.pad)
            }
            #expect(Swift.abs(VJPCheck.dot(y, gy) - VJPCheck.dot(x, gx)) <= 1e-12, "\(g)")
        }
    }

    @Test func maxPoolBackwardBreaksTiesLikePyTorch() throws {
        // Windows (2×2, stride 2) of a 2×6 plane: [5 5 | 5 5] ties everywhere → the first cell (row-major);
        // [1 7 | 7 0] → the first 7; [−∞ −∞ | −∞ −∞] → the first cell; with NaNs the last NaN.
        let x = Tensor(.f64, shape: [1, 1, 2, 6], scalars: [5, 5, 1, 7, -.infinity, .nan, 5, 5, 7, 0, .nan, 2])
        let gy = Tensor(.f64, shape: [1, 1, 1, 3], scalars: [1, 2, 3])
        let gx = try VJPCheck.run([x, gy]) { b, v in try b.maxPool2dBackward(v[0], v[1], kernel: [2, 2]) }
        #expect(gx.scalars == [1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3, 0])
        let infinite = Tensor(TensorType(.f64, [1, 1, 2, 2]), repeating: -.infinity)
        let gi = try VJPCheck.run([infinite, Tensor(.f64, shape: [1, 1, 1, 1], scalars: [4])]) { b, v in
            try b.maxPool2dBackward(v[0], v[1], kernel: [2, 2])
        }
        #expect(gi.scalars == [4, 0, 0, 0])
    }

    // MARK: PyTorch

    /// The cases of `ops.safetensors` this suite covers.
    static let referenceCases: Set<String> = [
        "conv2d_k1_s1_zeropad0", "conv2d_k3_s1_zeropad1", "conv2d_k3_s2_zeropad1", "conv2d_k4_s2_zeropad1",
        "conv2d_k5_s1_zeropad2", "conv2d_k7_s1_zeropad3", "conv2d_k4_s2_reflectpad1",
        "pad_reflect_l1r2t2b1", "pad_replicate_l1r2t2b1", "pad_constant_l1r2t2b1", "upsample_nearest_2x",
        "avg_pool_3_s2_p1_exclude_pad", "avg_pool_3_s2_p1_include_pad", "global_avg_pool", "max_pool_2_s2", "linear",
    ]

    /// Builds a reference case's op; nil for ops of other suites.
    static func build(_ c: OpReferenceCases.Case, _ b: GraphBuilder, _ v: [ValueID]) throws -> ValueID? {
        let a = c.attributes
        func ints(_ key: String, _ count: Int, default value: Int? = nil) throws -> [Int] {
            try OpReferenceCases.ints(a[key] ?? value, count: count)
        }
        switch c.op {
        case "conv2d", "conv2d(pad)":
            let mode = try #require(PadMode(rawValue: a["pad_mode"] as? String ?? ""), "\(c.name): pad_mode")
            let (stride, pad, bias) = (try ints("stride", 2), try ints("pad", 4), v.count > 2 ? v[2] : nil)
            // MUNIT's Conv2dBlock: reflect or replicate padding is its own op in front of an unpadded convolution.
            if mode == .zero { return try b.conv2d(v[0], v[1], bias, stride: stride, pad: pad) }
            return try b.conv2d(b.pad(v[0], mode: mode, pad), v[1], bias, stride: stride)
        case "pad":
            let mode = try #require(PadMode(rawValue: a["mode"] as? String ?? ""), "\(c.name): mode")
            return try b.pad(v[0], mode: mode, ints("pad_left_right_top_bottom", 4))
        case "upsample_nearest": return try b.upsampleNearest(v[0], scale: ints("scale", 2))
        case "avg_pool2d":
            return try b.avgPool2d(v[0], kernel: ints("kernel", 2), stride: ints("stride", 2), pad: ints("pad", 4, default: 0),
                                   countIncludePad: a["count_include_pad"] as? Bool ?? true)
        case "max_pool2d":
            return try b.maxPool2d(v[0], kernel: ints("kernel", 2), stride: ints("stride", 2), pad: ints("pad", 4, default: 0))
        case "global_avg_pool": return try b.globalAvgPool(v[0])
        case "linear": return try b.linear(v[0], v[1], v.count > 2 ? v[2] : nil)
        default: return nil
        }
    }

    @Test func gradientsMatchPyTorchFloat64() throws {
        guard let reference = try OpReferenceCases.load() else { return }  // No shared folder beside this checkout.
        var checked: Set<String> = []
        for c in reference.cases {
            guard let errors = try OpReferenceCases.gradientErrors(c, build: { b, v in try Self.build(c, b, v) }) else {
                continue
            }
            for (i, error) in errors.enumerated() { #expect(error <= 1e-9, "\(c.name) grad \(i): relative error \(error)") }
            checked.insert(c.name)
        }
        #expect(Self.referenceCases.subtracting(checked).isEmpty, "not checked: \(Self.referenceCases.subtracting(checked).sorted())")
    }

    // MARK: Text format

    @Test func differentiatedGraphRoundTripsThroughText() throws {
        let b = GraphBuilder(name: "block")
        let x = b.input("x", TensorType(.f32, [1, 2, 6, 6]))
        let w = b.parameter("conv.weight", TensorType(.f32, [3, 2, 4, 4]))
        let bias = b.parameter("conv.bias", TensorType(.f32, [3]))
        var y = try b.conv2d(b.pad(x, mode: .reflect, [1, 1, 1, 1]), w, bias, stride: [2, 2])
        y = try b.maxPool2d(b.upsampleNearest(y), kernel: [2, 2])
        y = try b.avgPool2d(y, kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1], countIncludePad: false)
        b.loss("loss", try b.reduceSum(b.globalAvgPool(y), axes: [0, 1, 2, 3]))
        var statistics = PassStatistics()
        let graph = try Autodiff(wrt: { _ in true }).run(b.graph, statistics: &statistics)
        let printed = printGraph(graph)
        for op in ["conv2d_backward_input", "conv2d_backward_weight", "pad_backward", "upsample_nearest_backward",
                   "max_pool2d_backward", "avg_pool2d_backward"] {
            #expect(printed.contains(op), "\(op) in the differentiated graph")
        }
        #expect(printGraph(try parseGraph(printed)) == printed)
    }
}
