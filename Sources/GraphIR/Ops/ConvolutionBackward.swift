/// The two gradients of `conv2d` that are convolutions themselves: with respect to its input (the transposed
/// convolution of the upstream gradient) and with respect to its weight (the correlation of input and
/// upstream gradient). The bias gradient is a plain `reduce_sum`, and matmul/linear need only matmul and
/// transpose; see the VJP rules in Convolution.swift.
extension Ops {
    /// ∂⟨conv2d(x, weight), gy⟩/∂x. The forward input shape is an attribute because a strided convolution
    /// can leave trailing input rows and columns unread, so it is not recoverable from gy.
    public static let conv2dBackwardInput = OpDefinition(
        name: "conv2d_backward_input",
        summary: "gradient of conv2d with respect to x: scatters gy[N,O,OH,OW] through weight[O,C,KH,KW] onto "
            + "x's shape input_shape = [N,C,H,W] (stride, pad = [left, right, top, bottom] as in the forward)",
        operands: .fixed(["gy", "weight"]),
        attributes: convolutionWindowAttributes + [
            AttributeSpec("input_shape", .ints, check: Check.ints(count: 4, minimum: 1)),
        ],
        traits: [.contraction, .backward],
        inferTypes: { types, attrs throws(OpError) in
            let op = "conv2d_backward_input"
            try OperandSpec.fixed(["gy", "weight"]).require(types, op: op)
            let dtype = try ShapeRules.commonDType(types, op: op)
            let gy = types[0], w = types[1], input = attrs.ints("input_shape")
            try ShapeRules.requireRank(gy, 4, "gy [N, O, OH, OW]", op: op)
            try ShapeRules.requireRank(w, 4, "weight [O, C, KH, KW]", op: op)
            if w.shape[0] != gy.shape[1] {
                throw OpError("'\(op)' weight \(w) has \(w.shape[0]) output channels, but gy \(gy) has \(gy.shape[1])")
            }
            if input[0] != gy.shape[0] || input[1] != w.shape[1] {
                throw OpError("'\(op)' input_shape \(input) needs N = \(gy.shape[0]) (from gy \(gy)) "
                    + "and C = \(w.shape[1]) (from weight \(w))")
            }
            let window = Window2D(kernel: [w.shape[2], w.shape[3]], stride: attrs.ints("stride"), pad: attrs.ints("pad"))
            try window.requireForwardOutput(of: input, matches: gy, op: op)
            return [try ShapeRules.validated(dtype, input, op: op)]
        },
        kernel: { inputs, attrs, results in [conv2dBackwardInputKernel(inputs[0], inputs[1], attrs, results[0])] },
        cost: { operands, results, _ in
            // The forward's multiply-accumulates, run backwards.
            let w = operands[1].shape
            return Cost(flops: Cost.saturatingProduct(2, operands[0].elementCount, w[1], w[2], w[3]),
                        bytes: Cost.bytes(operands + results))
        })

    /// ∂⟨conv2d(x, weight), gy⟩/∂weight, summed over the batch.
    public static let conv2dBackwardWeight = OpDefinition(
        name: "conv2d_backward_weight",
        summary: "gradient of conv2d with respect to its weight: correlates x[N,C,H,W] with gy[N,O,OH,OW] "
            + "→ [O,C,KH,KW] for kernel = [KH, KW] (stride, pad = [left, right, top, bottom] as in the forward)",
        operands: .fixed(["x", "gy"]),
        attributes: convolutionWindowAttributes + [
            AttributeSpec("kernel", .ints, check: Check.ints(count: 2, minimum: 1)),
        ],
        traits: [.contraction, .backward],
        inferTypes: { types, attrs throws(OpError) in
            let op = "conv2d_backward_weight"
            try OperandSpec.fixed(["x", "gy"]).require(types, op: op)
            let dtype = try ShapeRules.commonDType(types, op: op)
            let x = types[0], gy = types[1], kernel = attrs.ints("kernel")
            try ShapeRules.requireRank(x, 4, "x [N, C, H, W]", op: op)
            try ShapeRules.requireRank(gy, 4, "gy [N, O, OH, OW]", op: op)
            if x.shape[0] != gy.shape[0] {
                throw OpError("'\(op)' x \(x) and gy \(gy) have different batch sizes")
            }
            let window = Window2D(kernel: kernel, stride: attrs.ints("stride"), pad: attrs.ints("pad"))
            try window.requireForwardOutput(of: x.shape, matches: gy, op: op)
            return [try ShapeRules.validated(dtype, [gy.shape[1], x.shape[1], kernel[0], kernel[1]], op: op)]
        },
        kernel: { inputs, attrs, results in [conv2dBackwardWeightKernel(inputs[0], inputs[1], attrs, results[0])] },
        cost: { operands, results, _ in
            let w = results[0].shape
            return Cost(flops: Cost.saturatingProduct(2, operands[1].elementCount, w[1], w[2], w[3]),
                        bytes: Cost.bytes(operands + results))
        })

    static let convolutionBackwardOps: [OpDefinition] = [conv2dBackwardInput, conv2dBackwardWeight]
}

/// The tap geometry both kernels share: for each kernel row (column), the output rows (columns) at which
/// that tap reads a cell inside the unpadded input, so neither kernel tests bounds in its inner loop.
private struct ConvTaps {
    let window: Window2D
    let rows: [Range<Int>], cols: [Range<Int>]

    init(kernel: [Int], attrs: Attributes, input: (h: Int, w: Int), output: (h: Int, w: Int)) {
        window = Window2D(kernel: kernel, stride: attrs.ints("stride"), pad: attrs.ints("pad"))
        rows = (0..<kernel[0]).map { [window] in
            window.validOutputs(tap: $0, axis: .vertical, inputSize: input.h, outputSize: output.h)
        }
        cols = (0..<kernel[1]).map { [window] in
            window.validOutputs(tap: $0, axis: .horizontal, inputSize: input.w, outputSize: output.w)
        }
    }

    /// The input row that output row `oy` reads with kernel row `ky` (and likewise for columns).
    func inputRow(_ oy: Int, _ ky: Int) -> Int { oy * window.strideH + ky - window.padTop }
    func inputCol(_ ox: Int, _ kx: Int) -> Int { ox * window.strideW + kx - window.padLeft }
}

/// gx[n, c, iy, ix] = Σ gy[n, o, oy, ox] · weight[o, c, ky, kx] over every (o, oy, ox, ky, kx) whose forward
/// tap read x[n, c, iy, ix]: the forward loop nest with the accumulation reversed.
private func conv2dBackwardInputKernel(_ gy: Tensor, _ weight: Tensor, _ attrs: Attributes, _ result: TensorType) -> Tensor {
    let (n, o, oh, ow) = (gy.shape[0], gy.shape[1], gy.shape[2], gy.shape[3])
    let (c, h, w) = (result.shape[1], result.shape[2], result.shape[3])
    let (kh, kw) = (weight.shape[2], weight.shape[3])
    let taps = ConvTaps(kernel: [kh, kw], attrs: attrs, input: (h, w), output: (oh, ow))
    let sw = taps.window.strideW
    var out = [Double](repeating: 0, count: result.elementCount)
    gy.scalars.withUnsafeBufferPointer { g in
        weight.scalars.withUnsafeBufferPointer { wt in
            out.withUnsafeMutableBufferPointer { gx in
                guard let gp = g.baseAddress, let xp = gx.baseAddress else { return }
                for b in 0..<n {
                    for oc in 0..<o {
                        let gBase = (b * o + oc) * oh * ow
                        for ic in 0..<c {
                            let xBase = (b * c + ic) * h * w
                            let wBase = (oc * c + ic) * kh * kw
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let tap = wt[wBase + ky * kw + kx]
                                    let cols = taps.cols[kx]
                                    for oy in taps.rows[ky] {
                                        // Raw pointers in the innermost loop, as in the forward kernel.
                                        var src = gp + (gBase + oy * ow + cols.lowerBound)
                                        var dst = xp + (xBase + taps.inputRow(oy, ky) * w + taps.inputCol(cols.lowerBound, kx))
                                        let end = src + cols.count
                                        while src < end {
                                            dst.pointee += tap * src.pointee
                                            src += 1
                                            dst += sw
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

/// gw[o, c, ky, kx] = Σ over n, oy, ox of gy[n, o, oy, ox] · x[n, c, iy, ix], where (iy, ix) is the cell the
/// forward tap (ky, kx) read for output (oy, ox); taps that fell on zero padding contribute nothing.
private func conv2dBackwardWeightKernel(_ x: Tensor, _ gy: Tensor, _ attrs: Attributes, _ result: TensorType) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, oh, ow) = (gy.shape[1], gy.shape[2], gy.shape[3])
    let (kh, kw) = (result.shape[2], result.shape[3])
    let taps = ConvTaps(kernel: [kh, kw], attrs: attrs, input: (h, w), output: (oh, ow))
    let sw = taps.window.strideW
    var out = [Double](repeating: 0, count: result.elementCount)
    x.scalars.withUnsafeBufferPointer { xs in
        gy.scalars.withUnsafeBufferPointer { g in
            guard let xp = xs.baseAddress, let gp = g.baseAddress else { return }
            for b in 0..<n {
                for oc in 0..<o {
                    let gBase = (b * o + oc) * oh * ow
                    for ic in 0..<c {
                        let xBase = (b * c + ic) * h * w
                        let wBase = (oc * c + ic) * kh * kw
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let cols = taps.cols[kx]
                                var sum = 0.0
                                for oy in taps.rows[ky] {
                                    var gyp = gp + (gBase + oy * ow + cols.lowerBound)
                                    var xsp = xp + (xBase + taps.inputRow(oy, ky) * w + taps.inputCol(cols.lowerBound, kx))
                                    let end = gyp + cols.count
                                    while gyp < end {
                                        sum += gyp.pointee * xsp.pointee
                                        gyp += 1
                                        xsp += sw
                                    }
                                }
                                out[wBase + ky * kw + kx] += sum
                            }
                        }
                    }
                }
            }
        }
    }
    return Tensor(result, scalars: out)
}

// Builder methods for the convolution gradients.
extension GraphBuilder {
    /// The gradient of `conv2d` with respect to its input of shape `inputShape` [N, C, H, W].
    public func conv2dBackwardInput(
        _ gy: ValueID, _ weight: ValueID, inputShape: [Int], stride: [Int] = [1, 1], pad: [Int] = [0, 0, 0, 0]
    ) throws -> ValueID {
        try apply(Ops.conv2dBackwardInput, [gy, weight],
                  ["stride": .ints(stride), "pad": .ints(pad), "input_shape": .ints(inputShape)])
    }

    /// The gradient of `conv2d` with respect to its weight of spatial size `kernel` [KH, KW].
    public func conv2dBackwardWeight(
        _ x: ValueID, _ gy: ValueID, kernel: [Int], stride: [Int] = [1, 1], pad: [Int] = [0, 0, 0, 0]
    ) throws -> ValueID {
        try apply(Ops.conv2dBackwardWeight, [x, gy], ["stride": .ints(stride), "pad": .ints(pad), "kernel": .ints(kernel)])
    }
}
