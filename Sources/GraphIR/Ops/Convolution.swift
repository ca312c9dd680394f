/// Contractions: 2-D convolution, matrix product and the fully connected layer (the work that goes to GEMM).
extension Ops {
    /// `stride` [h, w] and `pad` [left, right, top, bottom] (zero padding), shared by conv2d and its
    /// backward ops so the three always agree.
    static let convolutionWindowAttributes = [
        AttributeSpec("stride", .ints, default: .ints([1, 1]), check: Check.ints(count: 2, minimum: 1)),
        AttributeSpec("pad", .ints, default: .ints([0, 0, 0, 0]), check: Check.ints(count: 4, minimum: 0)),
    ]

    /// PyTorch's `Conv2d` (a cross-correlation) with zero padding and an optional bias. Reflect or replicate
    /// padding is a separate `pad` node in front; fusion folds it into the convolution's input indexing.
    public static let conv2d = OpDefinition(
        name: "conv2d",
        summary: "2-D convolution (cross-correlation) of x[N,C,H,W] with weight[O,C,KH,KW], zero padding "
            + "pad = [left, right, top, bottom], optional bias[O]; result [N,O,OH,OW]",
        operands: .optionalTrailing(required: ["x", "weight"], optional: ["bias"]),
        attributes: convolutionWindowAttributes,
        traits: .contraction,
        inferTypes: { types, attrs throws(OpError) in
            let op = "conv2d"
            let dtype = try ShapeRules.commonDType(types, op: op)
            let x = types[0], w = types[1]
            try ShapeRules.requireRank(x, 4, "x [N, C, H, W]", op: op)
            try ShapeRules.requireRank(w, 4, "weight [O, C, KH, KW]", op: op)
            if w.shape[1] != x.shape[1] {
                throw OpError("'\(op)' weight \(w) expects \(w.shape[1]) input channels, but x \(x) has \(x.shape[1])")
            }
            if types.count == 3 { try ShapeRules.requireShape(types[2], [w.shape[0]], "bias", op: op) }
            let window = Window2D(kernel: [w.shape[2], w.shape[3]], stride: attrs.ints("stride"), pad: attrs.ints("pad"))
            let (oh, ow) = try window.outputSize(height: x.shape[2], width: x.shape[3], op: op)
            return [try ShapeRules.validated(dtype, [x.shape[0], w.shape[0], oh, ow], op: op)]
        },
        kernel: { inputs, attrs, results in [conv2dKernel(inputs, attrs, results[0])] },
        cost: { operands, results, _ in
            // Two flops per multiply-accumulate; the bias add (one per output) is negligible and not counted.
            let w = operands[1].shape
            return Cost(flops: Cost.saturatingProduct(2, results[0].elementCount, w[1], w[2], w[3]),
                        bytes: Cost.bytes(operands + results))
        },
        vjp: conv2dVJP)

    /// The matrix product of two rank-2 tensors.
    public static let matmul = OpDefinition(
        name: "matmul",
        summary: "matrix product a[M,K] · b[K,N] → [M,N] (rank 2 only)",
        operands: .fixed(["a", "b"]),
        traits: .contraction,
        inferTypes: { types, _ throws(OpError) in
            let op = "matmul"
            let dtype = try ShapeRules.commonDType(types, op: op)
            try ShapeRules.requireRank(types[0], 2, "a [M, K]", op: op)
            try ShapeRules.requireRank(types[1], 2, "b [K, N]", op: op)
            if types[0].shape[1] != types[1].shape[0] {
                throw OpError("'\(op)' inner dimensions differ: a \(types[0]) has K = \(types[0].shape[1]), "
                    + "b \(types[1]) has K = \(types[1].shape[0])")
            }
            return [TensorType(dtype, [types[0].shape[0], types[1].shape[1]])]
        },
        kernel: { inputs, _, results in
            let (m, k, n) = (inputs[0].shape[0], inputs[0].shape[1], inputs[1].shape[1])
            var out = [Double](repeating: 0, count: m * n)
            inputs[0].scalars.withUnsafeBufferPointer { a in
                inputs[1].scalars.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { c in
                        // i-k-j order: the innermost loop runs along rows of b and c.
                        for i in 0..<m {
                            for p in 0..<k {
                                let aip = a[i * k + p]
                                for j in 0..<n { c[i * n + j] += aip * b[p * n + j] }
                            }
                        }
                    }
                }
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: { operands, results, _ in
            Cost(flops: Cost.saturatingProduct(2, results[0].elementCount, operands[0].shape[1]),
                 bytes: Cost.bytes(operands + results))
        },
        vjp: { ctx in
            // y = a·b ⇒ ga = g·bᵀ, gb = aᵀ·g.
            let b = ctx.builder, g = ctx.gradient
            return [try b.matmul(g, b.transpose(ctx.operands[1], perm: [1, 0])),
                    try b.matmul(b.transpose(ctx.operands[0], perm: [1, 0]), g)]
        })

    /// PyTorch's `Linear`: the weight is [out, in], so this is x · weightᵀ + bias.
    public static let linear = OpDefinition(
        name: "linear",
        summary: "fully connected layer x[B,in] · weight[out,in]ᵀ + bias[out] (PyTorch layout) → [B,out]",
        operands: .optionalTrailing(required: ["x", "weight"], optional: ["bias"]),
        traits: .contraction,
        inferTypes: { types, _ throws(OpError) in
            let op = "linear"
            let dtype = try ShapeRules.commonDType(types, op: op)
            let x = types[0], w = types[1]
            try ShapeRules.requireRank(x, 2, "x [B, in]", op: op)
            try ShapeRules.requireRank(w, 2, "weight [out, in]", op: op)
            if w.shape[1] != x.shape[1] {
                throw OpError("'\(op)' weight \(w) expects \(w.shape[1]) input features, but x \(x) has \(x.shape[1])")
            }
            if types.count == 3 { try ShapeRules.requireShape(types[2], [w.shape[0]], "bias", op: op) }
            return [TensorType(dtype, [x.shape[0], w.shape[0]])]
        },
        kernel: { inputs, _, results in
            let (batch, features, outs) = (inputs[0].shape[0], inputs[0].shape[1], inputs[1].shape[0])
            let bias = inputs.count == 3 ? inputs[2].scalars : [Double](repeating: 0, count: outs)
            var out = [Double](repeating: 0, count: batch * outs)
            inputs[0].scalars.withUnsafeBufferPointer { x in
                inputs[1].scalars.withUnsafeBufferPointer { w in
                    for b in 0..<batch {
                        for o in 0..<outs {
                            var sum = bias[o]
                            for i in 0..<features { sum += x[b * features + i] * w[o * features + i] }
                            out[b * outs + o] = sum
                        }
                    }
                }
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: { operands, results, _ in
            Cost(flops: Cost.saturatingProduct(2, results[0].elementCount, operands[0].shape[1]),
                 bytes: Cost.bytes(operands + results))
        },
        vjp: { ctx in
            // y = x·wᵀ + bias ⇒ gx = g·w, gw = gᵀ·x, gbias = Σ_batch g.
            let b = ctx.builder, g = ctx.gradient
            let gx = try b.matmul(g, ctx.operands[1])
            let gw = try b.matmul(b.transpose(g, perm: [1, 0]), ctx.operands[0])
            return ctx.operands.count == 3 ? [gx, gw, try b.reduceSum(g, axes: [0])] : [gx, gw]
        })

    static let convolutionOps: [OpDefinition] = [conv2d, matmul, linear]
}

/// conv2d's VJP: the input and weight gradients are backward-convolution ops with the forward's geometry;
/// the bias gradient sums gy over batch and space.
private func conv2dVJP(_ ctx: VJPContext) throws -> [ValueID?] {
    let b = ctx.builder, g = ctx.gradient
    let (stride, pad) = (ctx.attributes.ints("stride"), ctx.attributes.ints("pad"))
    let w = ctx.shape(1)
    let gx = try b.conv2dBackwardInput(g, ctx.operands[1], inputShape: ctx.shape(0), stride: stride, pad: pad)
    let gw = try b.conv2dBackwardWeight(ctx.operands[0], g, kernel: [w[2], w[3]], stride: stride, pad: pad)
    return ctx.operands.count == 3 ? [gx, gw, try b.reduceSum(g, axes: [0, 2, 3])] : [gx, gw]
}

/// The direct convolution: for every (sample, output channel, input channel, kernel tap) one scaled row
/// update of the output plane, restricted to the output positions whose input lies inside the unpadded
/// image, so zero padding costs nothing and needs no bounds test in the inner loop.
private func conv2dKernel(_ inputs: [Tensor], _ attrs: Attributes, _ result: TensorType) -> Tensor {
    let (n, c, h, w) = (inputs[0].shape[0], inputs[0].shape[1], inputs[0].shape[2], inputs[0].shape[3])
    let (o, kh, kw) = (inputs[1].shape[0], inputs[1].shape[2], inputs[1].shape[3])
    let (oh, ow) = (result.shape[2], result.shape[3])
    let window = Window2D(kernel: [kh, kw], stride: attrs.ints("stride"), pad: attrs.ints("pad"))
    let rows = (0..<kh).map { window.validOutputs(tap: $0, axis: .vertical, inputSize: h, outputSize: oh) }
    let cols = (0..<kw).map { window.validOutputs(tap: $0, axis: .horizontal, inputSize: w, outputSize: ow) }
    let plane = oh * ow
    var out = [Double](repeating: 0, count: result.elementCount)
    inputs[0].scalars.withUnsafeBufferPointer { x in
        inputs[1].scalars.withUnsafeBufferPointer { weight in
            out.withUnsafeMutableBufferPointer { y in
                guard let xp = x.baseAddress, let yp = y.baseAddress else { return }
                let sw = window.strideW
                for b in 0..<n {
                    for oc in 0..<o {
                        let yBase = (b * o + oc) * plane
                        if inputs.count == 3 {
                            let bias = inputs[2].scalars[oc]
                            for i in 0..<plane { y[yBase + i] = bias }
                        }
                        for ic in 0..<c {
                            let xBase = (b * c + ic) * h * w
                            let wBase = (oc * c + ic) * kh * kw
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let tap = weight[wBase + ky * kw + kx]
                                    let (colStart, colEnd) = (cols[kx].lowerBound, cols[kx].upperBound)
                                    for oy in rows[ky] {
                                        let iy = oy * window.strideH + ky - window.padTop
                                        let ix = colStart * sw + kx - window.padLeft
                                        // Raw pointers: this loop is the interpreter's hottest, and buffer
                                        // subscripts cost twice as much in debug builds.
                                        var dst = yp + (yBase + oy * ow + colStart), src = xp + (xBase + iy * w + ix)
                                        let end = dst + (colEnd - colStart)
                                        while dst < end {
                                            dst.pointee += tap * src.pointee
                                            dst += 1
                                            src += sw
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return Tensor(result, scalars: out)
}

// Builder methods for the contractions.
extension GraphBuilder {
    /// A 2-D convolution with zero padding `pad = [left, right, top, bottom]`; see `Ops.conv2d`.
    public func conv2d(
        _ x: ValueID, _ weight: ValueID, _ bias: ValueID? = nil, stride: [Int] = [1, 1], pad: [Int] = [0, 0, 0, 0]
    ) throws -> ValueID {
        try apply(Ops.conv2d, [x, weight] + (bias.map { [$0] } ?? []), ["stride": .ints(stride), "pad": .ints(pad)])
    }

    /// The matrix product `a · b` of two rank-2 values.
    public func matmul(_ a: ValueID, _ b: ValueID) throws -> ValueID { try apply(Ops.matmul, [a, b]) }

    /// A fully connected layer `x · weightᵀ + bias` with PyTorch's [out, in] weight layout.
    public func linear(_ x: ValueID, _ weight: ValueID, _ bias: ValueID? = nil) throws -> ValueID {
        try apply(Ops.linear, [x, weight] + (bias.map { [$0] } ?? []))
    }
}
