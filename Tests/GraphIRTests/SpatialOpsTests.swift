import Foundation
import Testing
@testable import GraphIR
import TestSupport

/// Convolution, matrix product, linear, padding, upsampling and pooling: hand-worked cases, comparisons with
/// naive computations written from the definitions, and shape-rule rejections.
@Suite struct SpatialOpsTests: OpTestHelpers {
    // MARK: Helpers


    func tensor(_ shape: [Int], _ values: [Double], _ dtype: DType = .f64) -> Tensor {
        Tensor(dtype, shape: shape, scalars: values)
    }

    func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor.random(TensorType(.f64, shape), using: &rng)
    }

    func expectClose(_ a: Tensor, _ b: Tensor, tolerance: Double = 1e-12, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(a.shape == b.shape, sourceLocation: sourceLocation)
        guard a.shape == b.shape else { return }
        #expect(a.maxAbsDifference(b) <= tolerance, "max difference \(a.maxAbsDifference(b))", sourceLocation: sourceLocation)
    }

    /// Element (n, c, y, x) of a rank-4 tensor.
    func at(_ t: Tensor, _ n: Int, _ c: Int, _ y: Int, _ x: Int) -> Double {
        t.scalars[((n * t.shape[1] + c) * t.shape[2] + y) * t.shape[3] + x]
    }

    /// A rank-4 tensor from a function of its index.
    func make(_ shape: [Int], _ f: (Int, Int, Int, Int) -> Double) -> Tensor {
        var values: [Double] = []
        for n in 0..<shape[0] { for c in 0..<shape[1] { for y in 0..<shape[2] { for x in 0..<shape[3] {
            values.append(f(n, c, y, x))
        } } } }
        return tensor(shape, values)
    }

    /// Convolution by definition: materialise the zero-padded input, then sum over every channel and tap.
    func naiveConv(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, stride: [Int], pad: [Int]) -> Tensor {
        let (ph, pw) = (x.shape[2] + pad[2] + pad[3], x.shape[3] + pad[0] + pad[1])
        let padded = make([x.shape[0], x.shape[1], ph, pw]) { n, c, y, xx in
            let (iy, ix) = (y - pad[2], xx - pad[0])
            return (0..<x.shape[2]).contains(iy) && (0..<x.shape[3]).contains(ix) ? at(x, n, c, iy, ix) : 0
        }
        let (kh, kw) = (w.shape[2], w.shape[3])
        let shape = [x.shape[0], w.shape[0], (ph - kh) / stride[0] + 1, (pw - kw) / stride[1] + 1]
        return make(shape) { n, o, oy, ox in
            var sum = bias?.scalars[o] ?? 0
            for c in 0..<x.shape[1] { for ky in 0..<kh { for kx in 0..<kw {
                sum += at(padded, n, c, oy * stride[0] + ky, ox * stride[1] + kx) * at(w, o, c, ky, kx)
            } } }
            return sum
        }
    }

    /// Padding by definition, row by row: reflect prepends the mirrored neighbours (edge excluded),
    /// replicate repeats the edge, zero adds zeros.
    func padByDefinition(_ row: [Double], _ before: Int, _ after: Int, _ mode: PadMode) -> [Double] {
        switch mode {
        case .reflect: return Array(row[1..<before + 1].reversed()) + row + Array(row[(row.count - 1 - after)..<(row.count - 1)].reversed())
        case .replicate: return Array(repeating: row[0], count: before) + row + Array(repeating: row[row.count - 1], count: after)
        case .zero: return Array(repeating: 0, count: before) + row + Array(repeating: 0, count: after)
        }
    }

    func naivePad(_ x: Tensor, _ mode: PadMode, _ pad: [Int]) -> Tensor {
        let (h, w) = (x.shape[2], x.shape[3])
        var values: [Double] = []
        for plane in 0..<x.shape[0] * x.shape[1] {
            let rows = (0..<h).map { padByDefinition(Array(x.scalars[(plane * h + $0) * w..<(plane * h + $0 + 1) * w]), pad[0], pad[1], mode) }
            // Pad the columns of the row-padded plane the same way, one column at a time.
            let cols = (0..<rows[0].count).map { j in padByDefinition(rows.map { $0[j] }, pad[2], pad[3], mode) }
            for i in 0..<cols[0].count { for j in 0..<cols.count { values.append(cols[j][i]) } }
        }
        return tensor([x.shape[0], x.shape[1], h + pad[2] + pad[3], w + pad[0] + pad[1]], values)
    }

    /// Pooling by definition over the padded input, where padded cells are nil.
    func naivePool(_ x: Tensor, kernel: [Int], stride: [Int], pad: [Int], _ reduce: ([Double?]) -> Double) -> Tensor {
        let (ph, pw) = (x.shape[2] + pad[2] + pad[3], x.shape[3] + pad[0] + pad[1])
        let shape = [x.shape[0], x.shape[1], (ph - kernel[0]) / stride[0] + 1, (pw - kernel[1]) / stride[1] + 1]
        return make(shape) { n, c, oy, ox in
            var window: [Double?] = []
            for ky in 0..<kernel[0] { for kx in 0..<kernel[1] {
                let (iy, ix) = (oy * stride[0] + ky - pad[2], ox * stride[1] + kx - pad[0])
                window.append((0..<x.shape[2]).contains(iy) && (0..<x.shape[3]).contains(ix) ? at(x, n, c, iy, ix) : nil)
            } }
            return reduce(window)
        }
    }

    let image3x3: [Double] = [1, 2, 3, 4, 5, 6, 7, 8, 9]

    // MARK: conv2d

    @Test func conv2dHandWorked() throws {
        let x = tensor([1, 1, 3, 3], image3x3)
        let w = tensor([1, 1, 2, 2], [1, 2, 3, 4])
        // 1·1 + 2·2 + 4·3 + 5·4 = 37, and so on, plus the bias 1.
        let y = try run([x, w, tensor([1], [1])]) { b, v in try b.conv2d(v[0], v[1], v[2]) }
        #expect(y == tensor([1, 1, 2, 2], [38, 48, 68, 78]))
        // One zero column on the left only: the first column sees (0, 1; 0, 4) and (0, 4; 0, 7).
        let left = try run([x, w]) { b, v in try b.conv2d(v[0], v[1], pad: [1, 0, 0, 0]) }
        #expect(left == tensor([1, 1, 2, 3], [18, 37, 47, 36, 67, 77]))
        // A 3×3 box filter, stride 2, zero padding 1: each output sums one 2×2 corner of the image.
        let box = try run([x, tensor([1, 1, 3, 3], Array(repeating: 1, count: 9))]) { b, v in
            try b.conv2d(v[0], v[1], stride: [2, 2], pad: [1, 1, 1, 1])
        }
        #expect(box == tensor([1, 1, 2, 2], [12, 16, 24, 28]))
    }

    @Test func conv2dMatchesNaiveConvolution() throws {
        // (x shape, weight shape, stride, pad, bias): odd, non-square, batch > 1, strides 1 and 2, unequal pads.
        let configs: [([Int], [Int], [Int], [Int], Bool)] = [
            ([2, 3, 7, 6], [4, 3, 3, 3], [1, 1], [1, 1, 1, 1], true),
            ([2, 3, 7, 6], [4, 3, 3, 3], [2, 2], [1, 1, 1, 1], true),
            ([1, 2, 9, 5], [3, 2, 4, 4], [2, 2], [1, 2, 0, 3], false),
            ([3, 2, 5, 8], [2, 2, 2, 3], [2, 1], [0, 1, 2, 0], true),
            ([2, 4, 6, 7], [5, 4, 1, 1], [1, 1], [0, 0, 0, 0], true),
            ([1, 3, 6, 6], [2, 3, 7, 7], [1, 1], [3, 3, 3, 3], true),
            ([2, 1, 4, 3], [2, 1, 5, 4], [1, 2], [1, 0, 0, 1], true),  // kernel = padded input (one output).
        ]
        for (i, (xs, ws, stride, pad, hasBias)) in configs.enumerated() {
            let seed = UInt64(10 * i)
            let x = random(xs, seed: seed), w = random(ws, seed: seed + 1)
            let bias = hasBias ? random([ws[0]], seed: seed + 2) : nil
            let y = try run([x, w] + (bias.map { [$0] } ?? [])) { b, v in
                try b.conv2d(v[0], v[1], hasBias ? v[2] : nil, stride: stride, pad: pad)
            }
            expectClose(y, naiveConv(x, w, bias, stride: stride, pad: pad))
        }
    }

    @Test func conv2dFloat32AgreesWithFloat64() throws {
        let x = random([2, 3, 9, 8], seed: 7), w = random([5, 3, 4, 4], seed: 8), bias = random([5], seed: 9)
        let conv: (GraphBuilder, [ValueID]) throws -> ValueID = { b, v in
            try b.conv2d(v[0], v[1], v[2], stride: [2, 2], pad: [1, 1, 1, 1])
        }
        let y64 = try run([x, w, bias].map { $0.converted(to: .f32).converted(to: .f64) }, conv)
        let y32 = try run([x, w, bias].map { $0.converted(to: .f32) }, conv)
        #expect(y32.dtype == .f32)
        expectClose(y32.converted(to: .f64), y64, tolerance: 1e-5)
    }

    @Test func conv2dRejectsBadShapesAndAttributes() {
        let x = TensorType(.f32, [1, 3, 5, 5]), w = TensorType(.f32, [4, 3, 3, 3])
        rejection([TensorType(.f32, [3, 5, 5]), w]) { b, v in try b.conv2d(v[0], v[1]) }
        let channels = rejection([x, TensorType(.f32, [4, 2, 3, 3])]) { b, v in try b.conv2d(v[0], v[1]) }
        #expect(channels.contains("input channels"))
        let large = rejection([x, TensorType(.f32, [4, 3, 6, 6])]) { b, v in try b.conv2d(v[0], v[1]) }
        #expect(large.contains("larger than the padded input"))
        rejection([x, TensorType(.f32, [4, 3, 6, 6])]) { b, v in try b.conv2d(v[0], v[1], pad: [1, 0, 0, 0]) }
        rejection([x, w, TensorType(.f32, [3])]) { b, v in try b.conv2d(v[0], v[1], v[2]) }
        rejection([x, w]) { b, v in try b.conv2d(v[0], v[1], stride: [0, 1]) }
        rejection([x, w]) { b, v in try b.conv2d(v[0], v[1], pad: [1, 1, 1]) }
        rejection([x, w]) { b, v in try b.conv2d(v[0], v[1], pad: [1, -1, 1, 1]) }
        rejection([x, TensorType(.f64, [4, 3, 3, 3])]) { b, v in try b.conv2d(v[0], v[1]) }
        rejection([x, w]) { b, v in try b.apply(Ops.conv2d, v, ["dilation": .ints([2, 2])]) }
    }

    @Test func conv2dCost() throws {
        let b = GraphBuilder(name: "cost")
        let y = try b.conv2d(b.input("x", TensorType(.f32, [2, 3, 8, 8])), b.input("w", TensorType(.f32, [4, 3, 3, 3])),
                             stride: [2, 2], pad: [1, 1, 1, 1])
        let node = try #require(b.graph.definingNode(of: y))
        let cost = node.op.cost(node.operands.map { b.type(of: $0) }, [b.type(of: y)], node.attributes)
        #expect(cost.flops == 2 * 2 * 4 * 4 * 4 * 3 * 3 * 3)
    }

    // MARK: matmul, linear

    @Test func matmulAndLinearHandWorked() throws {
        let product = try run([tensor([2, 2], [1, 2, 3, 4]), tensor([2, 2], [5, 6, 7, 8])]) { b, v in try b.matmul(v[0], v[1]) }
        #expect(product == tensor([2, 2], [19, 22, 43, 50]))
        let column = try run([tensor([2, 3], [1, 2, 3, 4, 5, 6]), tensor([3, 1], [1, 0, -1])]) { b, v in try b.matmul(v[0], v[1]) }
        #expect(column == tensor([2, 1], [-2, -2]))
        // weight is [out, in]: rows pick x₀, x₁ and x₀ + x₁.
        let x = tensor([2, 2], [1, 2, -3, 5]), w = tensor([3, 2], [1, 0, 0, 1, 1, 1])
        let y = try run([x, w, tensor([3], [0.5, 0, -1])]) { b, v in try b.linear(v[0], v[1], v[2]) }
        #expect(y == tensor([2, 3], [1.5, 2, 2, -2.5, 5, 1]))
        let noBias = try run([x, w]) { b, v in try b.linear(v[0], v[1]) }
        #expect(noBias == tensor([2, 3], [1, 2, 3, -3, 5, 2]))
    }

    @Test func matmulAndLinearReject() {
        rejection([TensorType(.f32, [2, 3]), TensorType(.f32, [2, 3])]) { b, v in try b.matmul(v[0], v[1]) }
        rejection([TensorType(.f32, [1, 2, 3]), TensorType(.f32, [3, 2])]) { b, v in try b.matmul(v[0], v[1]) }
        rejection([TensorType(.f32, [4, 5]), TensorType(.f32, [7, 6])]) { b, v in try b.linear(v[0], v[1]) }
        rejection([TensorType(.f32, [4, 5]), TensorType(.f32, [7, 5]), TensorType(.f32, [5])]) { b, v in
            try b.linear(v[0], v[1], v[2])
        }
        rejection([TensorType(.f32, [4, 5, 1]), TensorType(.f32, [7, 5])]) { b, v in try b.linear(v[0], v[1]) }
    }

    // MARK: pad

    @Test func padHandWorked() throws {
        let x = tensor([1, 1, 2, 3], [1, 2, 3, 4, 5, 6])
        let pad = [2, 1, 1, 0]  // left 2, right 1, top 1, bottom 0.
        let reflect = try run([x]) { b, v in try b.pad(v[0], mode: .reflect, pad) }
        #expect(reflect == tensor([1, 1, 3, 6], [6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5]))
        let replicate = try run([x]) { b, v in try b.pad(v[0], mode: .replicate, pad) }
        #expect(replicate == tensor([1, 1, 3, 6], [1, 1, 1, 2, 3, 3, 1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6]))
        let zero = try run([x]) { b, v in try b.pad(v[0], mode: .zero, pad) }
        #expect(zero == tensor([1, 1, 3, 6], [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0]))
    }

    @Test(arguments: PadMode.allCases) func padMatchesDefinitionAtEveryBorder(mode: PadMode) throws {
        // Unequal pads on all four sides, up to the largest reflect allows (dimension − 1).
        for (i, (shape, pad)) in [([2, 3, 5, 4], [1, 3, 2, 0]), ([1, 2, 6, 7], [0, 2, 5, 1]), ([2, 1, 3, 3], [2, 1, 1, 2])].enumerated() {
            let x = random(shape, seed: 100 + UInt64(i))
            let y = try run([x]) { b, v in try b.pad(v[0], mode: mode, pad) }
            #expect(y == naivePad(x, mode, pad))
        }
    }

    @Test func padRejects() {
        let x = TensorType(.f32, [1, 2, 3, 4])
        let reflect = rejection([x]) { b, v in try b.pad(v[0], mode: .reflect, [4, 0, 0, 0]) }
        #expect(reflect.contains("smaller than its axis"))
        rejection([x]) { b, v in try b.pad(v[0], mode: .reflect, [0, 0, 0, 3]) }
        rejection([x]) { b, v in try b.pad(v[0], mode: .zero, [0, 0, -1, 0]) }
        rejection([x]) { b, v in try b.pad(v[0], mode: .zero, [1, 1]) }
        rejection([TensorType(.f32, [2, 3, 4])]) { b, v in try b.pad(v[0], mode: .replicate, [1, 1, 1, 1]) }
        let mode = rejection([x]) { b, v in try b.apply(Ops.pad, v, ["mode": .string("circular"), "pad": .ints([1, 1, 1, 1])]) }
        #expect(mode.contains("circular"))
        rejection([x]) { b, v in try b.apply(Ops.pad, v, ["pad": .ints([1, 1, 1, 1])]) }
    }

    // MARK: upsample_nearest

    @Test func upsampleNearest() throws {
        let y = try run([tensor([1, 1, 2, 2], [1, 2, 3, 4])]) { b, v in try b.upsampleNearest(v[0], scale: [2, 3]) }
        #expect(y == tensor([1, 1, 4, 6], [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4]))
        let x = random([2, 3, 3, 5], seed: 3)
        let doubled = try run([x]) { b, v in try b.upsampleNearest(v[0]) }
        #expect(doubled == make([2, 3, 6, 10]) { n, c, y, xx in at(x, n, c, y / 2, xx / 2) })
        rejection([TensorType(.f32, [1, 1, 2, 2])]) { b, v in try b.upsampleNearest(v[0], scale: [0, 2]) }
    }

    // MARK: pooling

    @Test func avgPoolHandWorked() throws {
        let x = tensor([1, 1, 3, 3], image3x3)
        let plain = try run([x]) { b, v in try b.avgPool2d(v[0], kernel: [2, 2], stride: [1, 1]) }
        #expect(plain == tensor([1, 1, 2, 2], [3, 4, 6, 7]))
        // MUNIT's discriminator pooling: each window covers one 2×2 corner (sums 12, 16, 24, 28) plus 5 padded cells.
        let included = try run([x]) { b, v in try b.avgPool2d(v[0], kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1]) }
        expectClose(included, tensor([1, 1, 2, 2], [12.0 / 9, 16.0 / 9, 24.0 / 9, 28.0 / 9]))
        let excluded = try run([x]) { b, v in
            try b.avgPool2d(v[0], kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1], countIncludePad: false)
        }
        #expect(excluded == tensor([1, 1, 2, 2], [3, 4, 6, 7]))
    }

    @Test func poolsMatchDefinition() throws {
        // (shape, kernel, stride, pad): odd, non-square, batch > 1, unequal pads within half the kernel.
        let configs: [([Int], [Int], [Int], [Int])] = [
            ([2, 3, 9, 7], [3, 3], [2, 2], [1, 1, 1, 1]),
            ([1, 2, 8, 5], [3, 2], [2, 1], [1, 0, 0, 1]),
            ([3, 1, 5, 6], [2, 4], [1, 3], [2, 1, 1, 0]),
            ([2, 2, 8, 6], [2, 2], [2, 2], [0, 0, 0, 0]),
        ]
        for (i, (shape, kernel, stride, pad)) in configs.enumerated() {
            let x = random(shape, seed: 200 + UInt64(i))
            for includePad in [true, false] {
                let y = try run([x]) { b, v in
                    try b.avgPool2d(v[0], kernel: kernel, stride: stride, pad: pad, countIncludePad: includePad)
                }
                expectClose(y, naivePool(x, kernel: kernel, stride: stride, pad: pad) { window in
                    let cells = window.compactMap { $0 }
                    return cells.reduce(0, +) / Double(includePad ? window.count : cells.count)
                })
            }
            let y = try run([x]) { b, v in try b.maxPool2d(v[0], kernel: kernel, stride: stride, pad: pad) }
            #expect(y == naivePool(x, kernel: kernel, stride: stride, pad: pad) { $0.compactMap { $0 }.max() ?? .nan })
        }
    }

    @Test func maxPoolPadsWithNegativeInfinity() throws {
        // All values negative: zero padding would win at the border, −∞ padding never does.
        let x = tensor([1, 1, 3, 3], image3x3.map { -$0 })
        let y = try run([x]) { b, v in try b.maxPool2d(v[0], kernel: [2, 2], stride: [1, 1], pad: [1, 1, 1, 1]) }
        #expect(y == tensor([1, 1, 4, 4], [-1, -1, -2, -3, -1, -1, -2, -3, -4, -4, -5, -6, -7, -7, -8, -9]))
        let halves = try run([tensor([1, 1, 2, 4], [1, 5, 2, 0, 3, 4, 8, 7])]) { b, v in try b.maxPool2d(v[0], kernel: [2, 2]) }
        #expect(halves == tensor([1, 1, 1, 2], [5, 8]))
    }

    @Test func globalAvgPool() throws {
        let x = tensor([2, 1, 3, 3], image3x3 + image3x3.map { $0 * 2 })
        let y = try run([x]) { b, v in try b.globalAvgPool(v[0]) }
        #expect(y == tensor([2, 1, 1, 1], [5, 10]))
        rejection([TensorType(.f32, [2, 3])]) { b, v in try b.globalAvgPool(v[0]) }
    }

    @Test func poolsReject() {
        let x = TensorType(.f32, [1, 2, 5, 4])
        let half = rejection([x]) { b, v in try b.avgPool2d(v[0], kernel: [3, 3], stride: [2, 2], pad: [2, 1, 1, 1]) }
        #expect(half.contains("at most half"))
        rejection([x]) { b, v in try b.maxPool2d(v[0], kernel: [2, 2], pad: [0, 0, 0, 2]) }
        rejection([x]) { b, v in try b.maxPool2d(v[0], kernel: [6, 2]) }
        rejection([x]) { b, v in try b.avgPool2d(v[0], kernel: [2, 5], stride: [1, 1]) }
        rejection([x]) { b, v in try b.avgPool2d(v[0], kernel: [0, 2]) }
        rejection([x]) { b, v in try b.avgPool2d(v[0], kernel: [2, 2, 2]) }
        rejection([x]) { b, v in try b.apply(Ops.avgPool2d, v, ["kernel": .ints([2, 2])]) }  // stride is required
        rejection([TensorType(.f32, [2, 5, 4])]) { b, v in try b.maxPool2d(v[0], kernel: [2, 2]) }
    }
}

/// The PyTorch float64 single-op cases of `shared/reference/ops.safetensors` for the convolution, spatial and
/// normalisation ops, run through the interpreter in float64.
@Suite struct PyTorchSpatialReferenceTests {
    /// The cases this suite must find and check.
    static let requiredCases: Set<String> = [
        "conv2d_k3_s1_zeropad1", "conv2d_k3_s2_zeropad1", "conv2d_k4_s2_zeropad1", "conv2d_k7_s1_zeropad3",
        "conv2d_k5_s1_zeropad2", "conv2d_k1_s1_zeropad0", "conv2d_k4_s2_reflectpad1",
        "pad_reflect_l1r2t2b1", "pad_replicate_l1r2t2b1", "pad_constant_l1r2t2b1",
        "instance_norm", "adain", "munit_layer_norm", "batch_norm_train", "upsample_nearest_2x",
        "avg_pool_3_s2_p1_exclude_pad", "avg_pool_3_s2_p1_include_pad", "global_avg_pool", "max_pool_2_s2", "linear",
    ]

    /// An int list attribute, given in the file either as one int (both axes) or as a list.
    static func ints(_ value: Any?, count: Int) throws -> [Int] {
        if let v = value as? Int { return Array(repeating: v, count: count) }
        let list = try #require(value as? [Int], "expected an int or a list of ints, got \(String(describing: value))")
        #expect(list.count == count)
        return list
    }

    /// Adds the case's op to `b` over `v`; nil for ops this suite does not cover.
    static func build(_ op: String, _ attrs: [String: Any], _ b: GraphBuilder, _ v: [ValueID]) throws -> ValueID? {
        let eps = attrs["eps"] as? Double ?? 1e-5
        switch op {
        case "conv2d", "conv2d(pad)":
            let mode = try #require(PadMode(rawValue: attrs["pad_mode"] as? String ?? ""), "pad_mode \(String(describing: attrs["pad_mode"]))")
            let stride = try ints(attrs["stride"], count: 2), pad = try ints(attrs["pad"], count: 4)
            // MUNIT's Conv2dBlock: reflect or replicate padding is its own op in front of an unpadded convolution.
            let bias = v.count > 2 ? v[2] : nil
            if mode == .zero { return try b.conv2d(v[0], v[1], bias, stride: stride, pad: pad) }
            return try b.conv2d(b.pad(v[0], mode: mode, pad), v[1], bias, stride: stride)
        case "pad":
            let mode = try #require(PadMode(rawValue: attrs["mode"] as? String ?? ""), "mode \(String(describing: attrs["mode"]))")
            return try b.pad(v[0], mode: mode, ints(attrs["pad_left_right_top_bottom"], count: 4))
        case "instance_norm": return try b.instanceNorm(v[0], eps: eps)
        case "adain": return try b.adain(v[0], weight: v[1], bias: v[2], eps: eps)
        case "layer_norm": return try b.layerNorm(v[0], gamma: v[1], beta: v[2], eps: eps)
        case "batch_norm": return try b.batchNorm(v[0], gamma: v[1], beta: v[2], eps: eps)
        case "upsample_nearest": return try b.upsampleNearest(v[0], scale: ints(attrs["scale"], count: 2))
        case "avg_pool2d":
            return try b.avgPool2d(
                v[0], kernel: ints(attrs["kernel"], count: 2), stride: ints(attrs["stride"], count: 2),
                pad: ints(attrs["pad"] ?? 0, count: 4), countIncludePad: attrs["count_include_pad"] as? Bool ?? true)
        case "max_pool2d":
            return try b.maxPool2d(v[0], kernel: ints(attrs["kernel"], count: 2), stride: ints(attrs["stride"], count: 2),
                                   pad: ints(attrs["pad"] ?? 0, count: 4))
        case "global_avg_pool": return try b.globalAvgPool(v[0])
        case "linear": return try b.linear(v[0], v[1], v.count > 2 ? v[2] : nil)
        default: return nil
        }
    }

    @Test func matchesPyTorchFloat64() throws {
        guard let url = SharedFolder.opsReference else {
            return  // The shared reference folder is not beside this checkout: nothing to compare against.
        }
        let file = try SafetensorsFile.read(contentsOf: url)
        let json = try #require(file.metadata["cases"]?.data(using: .utf8), "no 'cases' metadata")
        let cases = try #require(try JSONSerialization.jsonObject(with: json) as? [String: [String: Any]])
        var checked: Set<String> = []
        for name in cases.keys.sorted() {
            let spec = try #require(cases[name])
            let op = try #require(spec["op"] as? String)
            let inputNames = try #require(spec["inputs"] as? [String])
            // Inputs are stored by position: case.<c>.in.<i>.
            let inputs = try (0..<inputNames.count).map { i in
                try #require(file.tensors["case.\(name).in.\(i)"], "missing input \(i) of \(name)").converted(to: .f64)
            }
            let b = GraphBuilder(name: name)
            let ids = inputs.enumerated().map { b.input("in\($0.offset)", $0.element.type) }
            guard let y = try Self.build(op, spec["attrs"] as? [String: Any] ?? [:], b, ids) else { continue }
            b.output("out", y)
            var arguments: [String: Tensor] = [:]
            for (i, t) in inputs.enumerated() { arguments["in\(i)"] = t }
            let ours = try #require(try Interpreter(graph: b.graph).run(arguments)["out"])
            let expected = try #require(file.tensors["case.\(name).out"], "missing output of \(name)").converted(to: .f64)
            #expect(ours.shape == expected.shape, "\(name)")
            guard ours.shape == expected.shape else { continue }
            let scale = Swift.max(expected.scalars.map(Swift.abs).max() ?? 0, 1e-300)
            let error = ours.maxAbsDifference(expected) / scale
            #expect(error <= 1e-10, "\(name): max abs error \(error) of the output scale \(scale)")
            checked.insert(name)
        }
        #expect(Self.requiredCases.subtracting(checked).isEmpty, "not checked: \(Self.requiredCases.subtracting(checked).sorted())")
    }
}
