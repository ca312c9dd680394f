/// Gradients of the spatial-window ops: each takes the forward op's attributes, and scatters the upstream
/// gradient back along the same index maps the forward gathered along. Global average pooling needs no op
/// of its own (its VJP is a scale and a broadcast).
extension Ops {
    /// ∂⟨pad(x), gy⟩/∂x: crops gy, and for reflect and replicate adds each border cell onto the cell it copied.
    public static let padBackward = OpDefinition(
        name: "pad_backward",
        summary: "gradient of pad: crops gy[N,C,H,W] by pad = [left, right, top, bottom]; for reflect and "
            + "replicate each border cell's gradient is added onto the source cell it copied",
        operands: .fixed(["gy"]),
        attributes: [
            AttributeSpec("mode", .string, check: Check.oneOf(PadMode.allCases.map(\.rawValue))),
            AttributeSpec("pad", .ints, check: Check.ints(count: 4, minimum: 0)),
        ],
        traits: [.spatial, .backward],
        inferTypes: { types, attrs throws(OpError) in
            let op = "pad_backward"
            try OperandSpec.fixed(["gy"]).require(types, op: op)
            let gy = try spatialInput(types, op: op), p = attrs.ints("pad")
            // The crops are summed with a check first: gy − top − bottom could pass below Int.min.
            let h = gy.shape[2] - (try ShapeRules.sum(p[2], p[3], op: op, "crop top + bottom ="))
            let w = gy.shape[3] - (try ShapeRules.sum(p[0], p[1], op: op, "crop left + right ="))
            if h < 1 || w < 1 {
                throw OpError("'\(op)' pad \(p) ([left, right, top, bottom]) leaves nothing of gy \(gy)")
            }
            if attrs.string("mode") == PadMode.reflect.rawValue && (p[0] >= w || p[1] >= w || p[2] >= h || p[3] >= h) {
                throw OpError("'\(op)' reflect needs each pad smaller than its axis of the unpadded input: pad \(p) "
                    + "([left, right, top, bottom]) on gy \(gy) leaves H = \(h), W = \(w)")
            }
            return [try ShapeRules.validated(gy.dtype, [gy.shape[0], gy.shape[1], h, w], op: op)]
        },
        kernel: { inputs, attrs, results in
            guard let mode = PadMode(rawValue: attrs.string("mode")) else { preconditionFailure("unverified pad mode") }
            let p = attrs.ints("pad")
            let (gh, gw) = (inputs[0].shape[2], inputs[0].shape[3])
            let (h, w) = (results[0].shape[2], results[0].shape[3])
            // The forward's maps from padded index to source index (nil: a zero cell, which has no source).
            let rowSource = (0..<gh).map { mode.sourceIndex($0 - p[2], size: h) }
            let colSource = (0..<gw).map { mode.sourceIndex($0 - p[0], size: w) }
            var out = [Double](repeating: 0, count: results[0].elementCount)
            inputs[0].scalars.withUnsafeBufferPointer { g in
                for plane in 0..<inputs[0].shape[0] * inputs[0].shape[1] {
                    for gy in 0..<gh {
                        guard let iy = rowSource[gy] else { continue }
                        let (xRow, gRow) = ((plane * h + iy) * w, (plane * gh + gy) * gw)
                        for gx in 0..<gw { if let ix = colSource[gx] { out[xRow + ix] += g[gRow + gx] } }
                    }
                }
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: OpDefinition.elementwiseCost(flopsPerElement: 1))

    /// ∂⟨upsample_nearest(x), gy⟩/∂x: the sum of gy over each scale[0] × scale[1] block.
    public static let upsampleNearestBackward = OpDefinition(
        name: "upsample_nearest_backward",
        summary: "gradient of upsample_nearest: sums gy[N,C,H·sh,W·sw] over each sh × sw block → [N,C,H,W]",
        operands: .fixed(["gy"]),
        attributes: [AttributeSpec("scale", .ints, default: .ints([2, 2]), check: Check.ints(count: 2, minimum: 1))],
        traits: [.spatial, .backward],
        inferTypes: { types, attrs throws(OpError) in
            let op = "upsample_nearest_backward"
            try OperandSpec.fixed(["gy"]).require(types, op: op)
            let gy = try spatialInput(types, op: op), s = attrs.ints("scale")
            if gy.shape[2] % s[0] != 0 || gy.shape[3] % s[1] != 0 {
                throw OpError("'\(op)' gy \(gy) is not a whole number of scale \(s) blocks")
            }
            return [TensorType(gy.dtype, [gy.shape[0], gy.shape[1], gy.shape[2] / s[0], gy.shape[3] / s[1]])]
        },
        kernel: { inputs, attrs, results in
            let s = attrs.ints("scale")
            let (gh, gw) = (inputs[0].shape[2], inputs[0].shape[3])
            let (h, w) = (results[0].shape[2], results[0].shape[3])
            var out = [Double](repeating: 0, count: results[0].elementCount)
            inputs[0].scalars.withUnsafeBufferPointer { g in
                for plane in 0..<inputs[0].shape[0] * inputs[0].shape[1] {
                    for gy in 0..<gh {
                        let (xRow, gRow) = ((plane * h + gy / s[0]) * w, (plane * gh + gy) * gw)
                        for gx in 0..<gw { out[xRow + gx / s[1]] += g[gRow + gx] }
                    }
                }
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: OpDefinition.elementwiseCost(flopsPerElement: 1))

    /// ∂⟨avg_pool2d(x), gy⟩/∂x: every cell gets gy / divisor from each window containing it, with the
    /// forward's divisor (the kernel area, or with `count_include_pad` false the window's cells inside x).
    public static let avgPool2dBackward = OpDefinition(
        name: "avg_pool2d_backward",
        summary: "gradient of avg_pool2d: spreads gy[N,C,OH,OW] evenly over each window of x's shape "
            + "input_shape = [N,C,H,W], divided as the forward divides (kernel, stride, pad, count_include_pad)",
        operands: .fixed(["gy"]),
        attributes: poolAttributes + [
            AttributeSpec("count_include_pad", .bool, default: .bool(true)),
            AttributeSpec("input_shape", .ints, check: Check.ints(count: 4, minimum: 1)),
        ],
        traits: [.spatial, .backward],
        inferTypes: { types, attrs throws(OpError) in
            let op = "avg_pool2d_backward"
            try OperandSpec.fixed(["gy"]).require(types, op: op)
            let gy = try spatialInput(types, op: op)
            let x = try ShapeRules.validated(gy.dtype, attrs.ints("input_shape"), op: op)
            try requirePooled(x, to: gy, attrs, op: op)
            return [x]
        },
        kernel: { inputs, attrs, results in
            let window = Window2D(attrs)
            let includePad = attrs.bool("count_include_pad")
            let area = Double(window.kernelH * window.kernelW)
            let g = inputs[0].scalars
            var out = [Double](repeating: 0, count: results[0].elementCount)
            forEachPoolWindow(input: results[0], output: inputs[0].type, window) { planeStart, width, index, rows, cols in
                let share = g[index] / (includePad ? area : Double(rows.count * cols.count))
                for iy in rows { for ix in cols { out[planeStart + iy * width + ix] += share } }
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: { operands, results, attrs in
            let k = attrs.ints("kernel")
            return Cost(flops: Cost.saturatingProduct(operands[0].elementCount, k[0], k[1]), bytes: Cost.bytes(operands + results))
        })

    /// ∂⟨max_pool2d(x), gy⟩/∂x: each window's gradient goes to its first maximal cell in row-major order
    /// (PyTorch's tie-break; a NaN counts as maximal, and the last NaN wins, as in PyTorch's CPU kernel).
    public static let maxPool2dBackward = OpDefinition(
        name: "max_pool2d_backward",
        summary: "gradient of max_pool2d: routes gy[N,C,OH,OW] to the first maximal cell (row-major) of each "
            + "window of x[N,C,H,W] (kernel, stride, pad as in the forward)",
        operands: .fixed(["x", "gy"]),
        attributes: poolAttributes,
        traits: [.spatial, .backward],
        inferTypes: { types, attrs throws(OpError) in
            let op = "max_pool2d_backward"
            try OperandSpec.fixed(["x", "gy"]).require(types, op: op)
            let x = try spatialInput(types, op: op)
            try requirePooled(x, to: types[1], attrs, op: op)
            return [x]
        },
        kernel: { inputs, attrs, results in
            let x = inputs[0].scalars, g = inputs[1].scalars
            var out = [Double](repeating: 0, count: results[0].elementCount)
            forEachPoolWindow(input: results[0], output: inputs[1].type, Window2D(attrs)) { planeStart, width, index, rows, cols in
                var best = -Double.infinity
                var winner = planeStart + rows.lowerBound * width + cols.lowerBound
                for iy in rows {
                    for ix in cols {
                        let cell = planeStart + iy * width + ix
                        if x[cell] > best || x[cell].isNaN {
                            best = x[cell]
                            winner = cell
                        }
                    }
                }
                out[winner] += g[index]
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: { operands, results, attrs in
            let k = attrs.ints("kernel")
            return Cost(flops: Cost.saturatingProduct(operands[1].elementCount, k[0], k[1]),
                        bytes: Cost.bytes(operands + results))
        })

    static let spatialBackwardOps: [OpDefinition] = [
        padBackward, upsampleNearestBackward, avgPool2dBackward, maxPool2dBackward,
    ]
}

/// Requires the forward pool (with its pad limits) to map `x` to exactly gy's type.
private func requirePooled(_ x: TensorType, to gy: TensorType, _ attrs: Attributes, op: String) throws(OpError) {
    try ShapeRules.requireRank(gy, 4, "gy [N, C, OH, OW]", op: op)
    let pooled = try poolType([x], attrs, op: op)
    if pooled.shape != gy.shape {
        throw OpError("'\(op)' gy \(gy) does not match the pooled shape \(pooled.shape) of x \(x) "
            + "(kernel \(attrs.ints("kernel")), stride \(attrs.ints("stride")), pad \(attrs.ints("pad")))")
    }
}

/// Calls `body` for every window of a pool from `input` to `output` (both NCHW), with the window's rows and
/// columns clipped to the unpadded input exactly as the forward pool clips them. `body` gets the offset of
/// the window's input plane, the plane's width, and the window's flat index in the output.
private func forEachPoolWindow(
    input: TensorType, output: TensorType, _ window: Window2D,
    _ body: (_ planeStart: Int, _ width: Int, _ index: Int, _ rows: Range<Int>, _ cols: Range<Int>) -> Void
) {
    let (h, w) = (input.shape[2], input.shape[3])
    let (oh, ow) = (output.shape[2], output.shape[3])
    let rows = (0..<oh).map { window.inputRange($0, axis: .vertical, inputSize: h) }
    let cols = (0..<ow).map { window.inputRange($0, axis: .horizontal, inputSize: w) }
    for plane in 0..<input.shape[0] * input.shape[1] {
        for oy in 0..<oh {
            for ox in 0..<ow { body(plane * h * w, w, (plane * oh + oy) * ow + ox, rows[oy], cols[ox]) }
        }
    }
}

// Builder methods for the spatial gradients.
extension GraphBuilder {
    /// The gradient of `pad(x, mode:, pad)` given the padded gradient `gy`.
    public func padBackward(_ gy: ValueID, mode: PadMode, _ pad: [Int]) throws -> ValueID {
        try apply(Ops.padBackward, [gy], ["mode": .string(mode.rawValue), "pad": .ints(pad)])
    }

    /// The gradient of `upsampleNearest(x, scale:)`: block sums of `gy`.
    public func upsampleNearestBackward(_ gy: ValueID, scale: [Int] = [2, 2]) throws -> ValueID {
        try apply(Ops.upsampleNearestBackward, [gy], ["scale": .ints(scale)])
    }

    /// The gradient of `avgPool2d` on an input of shape `inputShape`; `stride` defaults to the kernel.
    public func avgPool2dBackward(
        _ gy: ValueID, inputShape: [Int], kernel: [Int], stride: [Int]? = nil, pad: [Int] = [0, 0, 0, 0],
        countIncludePad: Bool = true
    ) throws -> ValueID {
        try apply(Ops.avgPool2dBackward, [gy], [
            "kernel": .ints(kernel), "stride": .ints(stride ?? kernel), "pad": .ints(pad),
            "count_include_pad": .bool(countIncludePad), "input_shape": .ints(inputShape),
        ])
    }

    /// The gradient of `maxPool2d(x, …)`; `stride` defaults to the kernel.
    public func maxPool2dBackward(
        _ x: ValueID, _ gy: ValueID, kernel: [Int], stride: [Int]? = nil, pad: [Int] = [0, 0, 0, 0]
    ) throws -> ValueID {
        try apply(Ops.maxPool2dBackward, [x, gy], ["kernel": .ints(kernel), "stride": .ints(stride ?? kernel), "pad": .ints(pad)])
    }
}
