/// Spatial-window ops on NCHW tensors: padding, nearest upsampling, pooling.
extension Ops {
    /// Explicit padding of the last two axes. MUNIT pads before each convolution (Conv2dBlock's `pad_type`).
    public static let pad = OpDefinition(
        name: "pad",
        summary: "pads x[N,C,H,W] by pad = [left, right, top, bottom]; mode reflect (PyTorch ReflectionPad2d, "
            + "edge not repeated, each pad < its axis), replicate (edge repeated) or zero",
        operands: .fixed(["x"]),
        attributes: [
            AttributeSpec("mode", .string, check: Check.oneOf(PadMode.allCases.map(\.rawValue))),
            AttributeSpec("pad", .ints, check: Check.ints(count: 4, minimum: 0)),
        ],
        traits: .spatial,
        inferTypes: { types, attrs throws(OpError) in
            let x = try spatialInput(types, op: "pad")
            let p = attrs.ints("pad")
            let (h, w) = (x.shape[2], x.shape[3])
            if attrs.string("mode") == PadMode.reflect.rawValue && (p[0] >= w || p[1] >= w || p[2] >= h || p[3] >= h) {
                throw OpError("'pad' reflect needs each pad smaller than its axis: pad \(p) "
                    + "([left, right, top, bottom]) on \(x) (H = \(h), W = \(w))")
            }
            let paddedH = try ShapeRules.sum(h, p[2], p[3], op: "pad", "height H + top + bottom =")
            let paddedW = try ShapeRules.sum(w, p[0], p[1], op: "pad", "width W + left + right =")
            return [try ShapeRules.validated(x.dtype, [x.shape[0], x.shape[1], paddedH, paddedW], op: "pad")]
        },
        kernel: { inputs, attrs, results in
            // Per-axis maps from result index to source index (nil: a zero cell), then one gather per plane.
            guard let mode = PadMode(rawValue: attrs.string("mode")) else { preconditionFailure("unverified pad mode") }
            let p = attrs.ints("pad")
            let (h, w) = (inputs[0].shape[2], inputs[0].shape[3])
            let (oh, ow) = (results[0].shape[2], results[0].shape[3])
            let rowSource = (0..<oh).map { mode.sourceIndex($0 - p[2], size: h) }
            let colSource = (0..<ow).map { mode.sourceIndex($0 - p[0], size: w) }
            let planes = inputs[0].shape[0] * inputs[0].shape[1]
            var out = [Double](repeating: 0, count: results[0].elementCount)
            inputs[0].scalars.withUnsafeBufferPointer { x in
                for plane in 0..<planes {
                    for oy in 0..<oh {
                        guard let iy = rowSource[oy] else { continue }
                        let (xRow, yRow) = ((plane * h + iy) * w, (plane * oh + oy) * ow)
                        for ox in 0..<ow { if let ix = colSource[ox] { out[yRow + ox] = x[xRow + ix] } }
                    }
                }
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: OpDefinition.elementwiseCost(flopsPerElement: 0),
        // pad_backward takes pad's attributes: it crops, adding border cells back onto the cells they copied.
        vjp: { ctx in [try ctx.builder.apply(Ops.padBackward, [ctx.gradient], ctx.attributes)] })

    /// Nearest-neighbour upsampling by integer factors (PyTorch's `Upsample(mode='nearest')`).
    public static let upsampleNearest = OpDefinition(
        name: "upsample_nearest",
        summary: "nearest-neighbour upsampling of x[N,C,H,W] by scale = [sh, sw] → [N,C,H·sh,W·sw]",
        operands: .fixed(["x"]),
        attributes: [AttributeSpec("scale", .ints, default: .ints([2, 2]), check: Check.ints(count: 2, minimum: 1))],
        traits: .spatial,
        inferTypes: { types, attrs throws(OpError) in
            let x = try spatialInput(types, op: "upsample_nearest")
            let s = attrs.ints("scale")
            let op = "upsample_nearest"
            let h = try ShapeRules.product(x.shape[2], s[0], op: op, "height H · sh =")
            let w = try ShapeRules.product(x.shape[3], s[1], op: op, "width W · sw =")
            return [try ShapeRules.validated(x.dtype, [x.shape[0], x.shape[1], h, w], op: op)]
        },
        kernel: { inputs, attrs, results in
            let s = attrs.ints("scale")
            let (h, w) = (inputs[0].shape[2], inputs[0].shape[3])
            let (oh, ow) = (results[0].shape[2], results[0].shape[3])
            let planes = inputs[0].shape[0] * inputs[0].shape[1]
            var out = [Double](repeating: 0, count: results[0].elementCount)
            inputs[0].scalars.withUnsafeBufferPointer { x in
                for plane in 0..<planes {
                    for oy in 0..<oh {
                        let (xRow, yRow) = ((plane * h + oy / s[0]) * w, (plane * oh + oy) * ow)
                        for ox in 0..<ow { out[yRow + ox] = x[xRow + ox / s[1]] }
                    }
                }
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: OpDefinition.elementwiseCost(flopsPerElement: 0),
        vjp: { ctx in [try ctx.builder.apply(Ops.upsampleNearestBackward, [ctx.gradient], ctx.attributes)] })

    /// PyTorch's `AvgPool2d` (floor mode). MUNIT's discriminator downsamples with kernel 3, stride 2, pad 1
    /// and `count_include_pad` false.
    public static let avgPool2d = OpDefinition(
        name: "avg_pool2d",
        summary: "average pooling of x[N,C,H,W] over kernel = [kh, kw] windows, stride = [sh, sw], zero padding "
            + "pad = [left, right, top, bottom]; count_include_pad false divides by the cells inside the input",
        operands: .fixed(["x"]),
        attributes: poolAttributes + [AttributeSpec("count_include_pad", .bool, default: .bool(true))],
        traits: .spatial,
        inferTypes: { types, attrs throws(OpError) in [try poolType(types, attrs, op: "avg_pool2d")] },
        kernel: { inputs, attrs, results in
            let window = Window2D(attrs)
            let includePad = attrs.bool("count_include_pad")
            // Floor mode keeps every window inside the padded input, so the padded count is the kernel area.
            let area = Double(window.kernelH * window.kernelW)
            return [pool(inputs[0], window, results[0]) { plane, width, rows, cols in
                var sum = 0.0
                for iy in rows { for ix in cols { sum += plane[iy * width + ix] } }
                return sum / (includePad ? area : Double(rows.count * cols.count))
            }]
        },
        cost: { operands, results, attrs in
            let k = attrs.ints("kernel")
            return Cost(flops: Cost.saturatingProduct(results[0].elementCount, k[0], k[1]), bytes: Cost.bytes(operands + results))
        },
        vjp: { ctx in
            // The forward's attributes plus x's shape, which a strided pool does not determine from gy.
            var attrs = ctx.attributes
            attrs["input_shape"] = .ints(ctx.shape(0))
            return [try ctx.builder.apply(Ops.avgPool2dBackward, [ctx.gradient], attrs)]
        })

    /// PyTorch's `MaxPool2d` (floor mode, no dilation); padded cells are −∞, so they never win. The gradient
    /// of each window goes to its first maximal cell in row-major order, as in PyTorch.
    public static let maxPool2d = OpDefinition(
        name: "max_pool2d",
        summary: "max pooling of x[N,C,H,W] over kernel = [kh, kw] windows, stride = [sh, sw], "
            + "pad = [left, right, top, bottom] of −∞ cells",
        operands: .fixed(["x"]),
        attributes: poolAttributes,
        traits: .spatial,
        inferTypes: { types, attrs throws(OpError) in [try poolType(types, attrs, op: "max_pool2d")] },
        kernel: { inputs, attrs, results in
            [pool(inputs[0], Window2D(attrs), results[0]) { plane, width, rows, cols in
                var best = -Double.infinity
                for iy in rows {
                    for ix in cols {
                        let v = plane[iy * width + ix]
                        if v.isNaN { return v }  // NaN propagates, as in PyTorch.
                        if v > best { best = v }
                    }
                }
                return best
            }]
        },
        cost: { operands, results, attrs in
            let k = attrs.ints("kernel")
            return Cost(flops: Cost.saturatingProduct(results[0].elementCount, k[0], k[1]), bytes: Cost.bytes(operands + results))
        },
        // The backward op finds each window's maximum again in x rather than keeping indices from the forward.
        vjp: { ctx in [try ctx.builder.apply(Ops.maxPool2dBackward, [ctx.operands[0], ctx.gradient], ctx.attributes)] })

    /// The mean over each (sample, channel) plane; MUNIT's style encoder ends with it.
    public static let globalAvgPool = OpDefinition(
        name: "global_avg_pool",
        summary: "mean of x[N,C,H,W] over H and W → [N,C,1,1]",
        operands: .fixed(["x"]),
        traits: [.spatial, .streamsOperand],
        inferTypes: { types, _ throws(OpError) in
            let x = try spatialInput(types, op: "global_avg_pool")
            return [TensorType(x.dtype, [x.shape[0], x.shape[1], 1, 1])]
        },
        kernel: { inputs, _, results in
            let planeSize = inputs[0].shape[2] * inputs[0].shape[3]
            let planes = inputs[0].shape[0] * inputs[0].shape[1]
            var out = [Double](repeating: 0, count: planes)
            inputs[0].scalars.withUnsafeBufferPointer { x in
                for plane in 0..<planes {
                    var sum = 0.0
                    for i in plane * planeSize..<(plane + 1) * planeSize { sum += x[i] }
                    out[plane] = sum / Double(planeSize)
                }
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: { operands, results, _ in
            Cost(flops: operands[0].elementCount, bytes: operands[0].byteCount + results[0].byteCount)
        },
        vjp: { ctx in
            // Every cell of a plane contributes 1/(H·W) of the plane's mean.
            let b = ctx.builder, x = ctx.shape(0)
            return [try b.broadcast(b.scale(ctx.gradient, by: 1 / Double(x[2] * x[3])), to: x)]
        })

    static let spatialOps: [OpDefinition] = [pad, upsampleNearest, avgPool2d, maxPool2d, globalAvgPool]

    /// The attributes both pools (and their backward ops) declare.
    static let poolAttributes = [
        AttributeSpec("kernel", .ints, check: Check.ints(count: 2, minimum: 1)),
        AttributeSpec("stride", .ints, check: Check.ints(count: 2, minimum: 1)),
        AttributeSpec("pad", .ints, default: .ints([0, 0, 0, 0]), check: Check.ints(count: 4, minimum: 0)),
    ]
}

/// How `pad` fills the border.
public enum PadMode: String, Sendable, CaseIterable {
    /// Mirror without repeating the edge (PyTorch's `ReflectionPad2d`): [a b c] padded by 2 → c b [a b c] b a.
    case reflect
    /// Repeat the edge (PyTorch's `ReplicationPad2d`): [a b c] padded by 2 → a a [a b c] c c.
    case replicate
    /// Zeros (PyTorch's `ZeroPad2d`).
    case zero

    /// The input index that padded position `i` (relative to the input's first cell) reads, or nil for a zero.
    /// Reflect needs `-size < i < 2·size − 1`, which the shape rule guarantees.
    public func sourceIndex(_ i: Int, size: Int) -> Int? {
        if i >= 0 && i < size { return i }
        switch self {
        case .reflect: return i < 0 ? -i : 2 * (size - 1) - i
        case .replicate: return i < 0 ? 0 : size - 1
        case .zero: return nil
        }
    }
}

/// The geometry of a 2-D sliding window over NCHW input, shared by convolution and pooling: kernel [kh, kw],
/// stride [sh, sw], padding [left, right, top, bottom].
struct Window2D {
    enum Axis { case vertical, horizontal }

    let kernelH, kernelW, strideH, strideW, padLeft, padRight, padTop, padBottom: Int

    init(kernel: [Int], stride: [Int], pad: [Int]) {
        (kernelH, kernelW) = (kernel[0], kernel[1])
        (strideH, strideW) = (stride[0], stride[1])
        (padLeft, padRight, padTop, padBottom) = (pad[0], pad[1], pad[2], pad[3])
    }

    /// The window of a pooling op's (verified) `kernel`, `stride` and `pad` attributes.
    init(_ attrs: Attributes) {
        self.init(kernel: attrs.ints("kernel"), stride: attrs.ints("stride"), pad: attrs.ints("pad"))
    }

    /// Output height and width, ⌊(size + pads − kernel) / stride⌋ + 1 (PyTorch's floor mode); throws when the
    /// kernel does not fit in the padded input.
    func outputSize(height: Int, width: Int, op: String) throws(OpError) -> (Int, Int) {
        let paddedH = try ShapeRules.sum(height, padTop, padBottom, op: op, "padded height H + top + bottom =")
        let paddedW = try ShapeRules.sum(width, padLeft, padRight, op: op, "padded width W + left + right =")
        if kernelH > paddedH || kernelW > paddedW {
            throw OpError("'\(op)' kernel [\(kernelH), \(kernelW)] is larger than the padded input "
                + "[\(paddedH), \(paddedW)] (input [\(height), \(width)], pad [\(padLeft), \(padRight), \(padTop), \(padBottom)])")
        }
        return ((paddedH - kernelH) / strideH + 1, (paddedW - kernelW) / strideW + 1)
    }

    /// Requires the forward output size on an input of NCHW `shape` to equal gy's spatial size: backward ops
    /// check their geometry this way.
    func requireForwardOutput(of shape: [Int], matches gy: TensorType, op: String) throws(OpError) {
        let (oh, ow) = try outputSize(height: shape[2], width: shape[3], op: op)
        if gy.shape[2] != oh || gy.shape[3] != ow {
            throw OpError("'\(op)' gy \(gy) does not match the forward output [\(oh), \(ow)] of input \(shape) "
                + "(kernel [\(kernelH), \(kernelW)], stride [\(strideH), \(strideW)], "
                + "pad [\(padLeft), \(padRight), \(padTop), \(padBottom)])")
        }
    }

    /// The output positions along `axis` at which kernel tap `tap` reads a cell inside the unpadded input.
    func validOutputs(tap: Int, axis: Axis, inputSize: Int, outputSize: Int) -> Range<Int> {
        let (stride, before) = axis == .vertical ? (strideH, padTop) : (strideW, padLeft)
        // The input index o·stride + tap − before grows with o, so the valid outputs are one contiguous run.
        var lo = 0
        while lo < outputSize && lo * stride + tap - before < 0 { lo += 1 }
        var hi = outputSize
        while hi > lo && (hi - 1) * stride + tap - before >= inputSize { hi -= 1 }
        return lo..<hi
    }

    /// The input cells along `axis` that output position `o`'s window covers, clipped to the unpadded input.
    func inputRange(_ o: Int, axis: Axis, inputSize: Int) -> Range<Int> {
        let (kernel, stride, before) = axis == .vertical ? (kernelH, strideH, padTop) : (kernelW, strideW, padLeft)
        let start = o * stride - before
        return Swift.max(start, 0)..<Swift.min(start + kernel, inputSize)
    }
}

/// The one NCHW operand of a spatial op, checked.
func spatialInput(_ types: [TensorType], op: String) throws(OpError) -> TensorType {
    _ = try ShapeRules.commonDType(types, op: op)
    try ShapeRules.requireRank(types[0], 4, "x [N, C, H, W]", op: op)
    return types[0]
}

/// The result type of a pool. Like PyTorch, each pad may be at most half the kernel on its axis: that keeps
/// every window over at least one input cell (no empty average, no −∞ maximum).
func poolType(_ types: [TensorType], _ attrs: Attributes, op: String) throws(OpError) -> TensorType {
    let x = try spatialInput(types, op: op)
    let window = Window2D(attrs)
    if Swift.max(window.padLeft, window.padRight) > window.kernelW / 2
        || Swift.max(window.padTop, window.padBottom) > window.kernelH / 2 {
        throw OpError("'\(op)' pad \(attrs.ints("pad")) ([left, right, top, bottom]) must be at most half "
            + "the kernel \(attrs.ints("kernel")) on each axis")
    }
    let (oh, ow) = try window.outputSize(height: x.shape[2], width: x.shape[3], op: op)
    return TensorType(x.dtype, [x.shape[0], x.shape[1], oh, ow])
}

/// Runs `reduce` for every output cell of a pool. It gets the input plane (row-major, `width` wide) and the
/// window's rows and columns clipped to the unpadded input; padding is the reducer's business.
private func pool(
    _ x: Tensor, _ window: Window2D, _ result: TensorType,
    _ reduce: (_ plane: UnsafeBufferPointer<Double>, _ width: Int, _ rows: Range<Int>, _ cols: Range<Int>) -> Double
) -> Tensor {
    let (h, w) = (x.shape[2], x.shape[3])
    let (oh, ow) = (result.shape[2], result.shape[3])
    let rows = (0..<oh).map { window.inputRange($0, axis: .vertical, inputSize: h) }
    let cols = (0..<ow).map { window.inputRange($0, axis: .horizontal, inputSize: w) }
    var out = [Double](repeating: 0, count: result.elementCount)
    x.scalars.withUnsafeBufferPointer { all in
        for plane in 0..<x.shape[0] * x.shape[1] {
            let input = UnsafeBufferPointer(rebasing: all[plane * h * w..<(plane + 1) * h * w])
            for oy in 0..<oh {
                for ox in 0..<ow { out[(plane * oh + oy) * ow + ox] = reduce(input, w, rows[oy], cols[ox]) }
            }
        }
    }
    return Tensor(result, scalars: out)
}

// Builder methods for the spatial ops.
extension GraphBuilder {
    /// Pads the last two axes by `pad = [left, right, top, bottom]`; see `PadMode`.
    public func pad(_ x: ValueID, mode: PadMode, _ pad: [Int]) throws -> ValueID {
        try apply(Ops.pad, [x], ["mode": .string(mode.rawValue), "pad": .ints(pad)])
    }

    /// Nearest-neighbour upsampling by `scale = [sh, sw]`.
    public func upsampleNearest(_ x: ValueID, scale: [Int] = [2, 2]) throws -> ValueID {
        try apply(Ops.upsampleNearest, [x], ["scale": .ints(scale)])
    }

    /// Average pooling; `stride` defaults to the kernel, as in PyTorch.
    public func avgPool2d(
        _ x: ValueID, kernel: [Int], stride: [Int]? = nil, pad: [Int] = [0, 0, 0, 0], countIncludePad: Bool = true
    ) throws -> ValueID {
        try apply(Ops.avgPool2d, [x], [
            "kernel": .ints(kernel), "stride": .ints(stride ?? kernel), "pad": .ints(pad),
            "count_include_pad": .bool(countIncludePad),
        ])
    }

    /// Max pooling with −∞ padding; `stride` defaults to the kernel, as in PyTorch.
    public func maxPool2d(_ x: ValueID, kernel: [Int], stride: [Int]? = nil, pad: [Int] = [0, 0, 0, 0]) throws -> ValueID {
        try apply(Ops.maxPool2d, [x], ["kernel": .ints(kernel), "stride": .ints(stride ?? kernel), "pad": .ints(pad)])
    }

    /// The mean over each (sample, channel) plane, [N, C, H, W] → [N, C, 1, 1].
    public func globalAvgPool(_ x: ValueID) throws -> ValueID { try apply(Ops.globalAvgPool, [x]) }
}
