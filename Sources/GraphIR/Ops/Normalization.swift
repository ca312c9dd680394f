/// Normalisations with statistics taken at run time: instance norm, AdaIN, MUNIT's layer norm, batch norm
/// (training mode). Statistics are computed in two passes (mean, then squared deviations) for accuracy.
extension Ops {
    /// Every norm's (and norm backward op's) `eps`: PyTorch's default 1e-5.
    static let epsAttribute = AttributeSpec("eps", .float, default: .float(1e-5), check: Check.float(above: 0))

    /// MUNIT's `in` norm (PyTorch `InstanceNorm2d` without affine).
    public static let instanceNorm: OpDefinition = OpDefinition(
        name: "instance_norm",
        summary: "per sample and channel of x[N,C,H,W] over H·W: (x − mean) / √(var + eps), biased variance, no affine",
        operands: .fixed(["x"]),
        attributes: [epsAttribute],
        traits: [.normalization, .sampleStatistics],
        inferTypes: { types, _ throws(OpError) in [try imageInput(types, op: "instance_norm")] },
        kernel: { inputs, attrs, results in
            [normalizePlanes(inputs[0], eps: attrs.float("eps"), scale: nil, shift: nil, result: results[0])]
        },
        cost: OpDefinition.elementwiseCost(flopsPerElement: 6),
        vjp: { ctx in [try ctx.builder.apply(Ops.instanceNormBackward, [ctx.operands[0], ctx.gradient], ctx.attributes)] })

    /// Adaptive instance norm: the scale and shift are per sample, produced by MUNIT's style MLP.
    public static let adain: OpDefinition = OpDefinition(
        name: "adain",
        summary: "instance norm of x[N,C,H,W] (biased variance, eps inside the square root), then "
            + "x̂ · weight[n,c] + bias[n,c] with weight[N,C], bias[N,C]",
        operands: .fixed(["x", "weight", "bias"]),
        attributes: [epsAttribute],
        traits: [.normalization, .sampleStatistics],
        inferTypes: { types, _ throws(OpError) in
            let x = try imageInput(types, op: "adain")
            try ShapeRules.requireShape(types[1], [x.shape[0], x.shape[1]], "weight [N, C]", op: "adain")
            try ShapeRules.requireShape(types[2], [x.shape[0], x.shape[1]], "bias [N, C]", op: "adain")
            return [x]
        },
        kernel: { inputs, attrs, results in
            [normalizePlanes(inputs[0], eps: attrs.float("eps"), scale: inputs[1].scalars, shift: inputs[2].scalars,
                             result: results[0])]
        },
        cost: OpDefinition.elementwiseCost(flopsPerElement: 8),
        vjp: { ctx in
            // y = x̂·w + bias per (n, c): x gets instance_norm_backward of gy·w; w gets Σ_hw gy·x̂, bias Σ_hw gy.
            let b = ctx.builder, g = ctx.gradient, x = ctx.operands[0]
            let weight = try b.reshape(ctx.operands[1], to: ctx.shape(1) + [1, 1])
            let gx = try b.apply(Ops.instanceNormBackward, [x, b.mul(g, weight)], ctx.attributes)
            let xHat = try b.apply(Ops.instanceNorm, [x], ctx.attributes)
            return [gx, try b.reduceSum(b.mul(g, xHat), axes: [2, 3]), try b.reduceSum(g, axes: [2, 3])]
        })

    /// MUNIT's own `LayerNorm` (networks.py), which differs from PyTorch's `nn.LayerNorm`: unbiased std and
    /// eps added to the std.
    public static let layerNorm: OpDefinition = OpDefinition(
        name: "layer_norm",
        summary: "MUNIT's LayerNorm: per sample of x[N,C,…] over all of C·H·W, (x − mean) / (std + eps) with the "
            + "unbiased std (divides by count − 1), then gamma[c] · y + beta[c]; not PyTorch's nn.LayerNorm",
        operands: .fixed(["x", "gamma", "beta"]),
        attributes: [epsAttribute],
        traits: [.normalization, .sampleStatistics],
        inferTypes: { types, _ throws(OpError) in
            let op = "layer_norm"
            let dtype = try ShapeRules.commonDType(types, op: op)
            let x = types[0]
            if x.rank < 2 { throw OpError("'\(op)' needs x of rank 2 or more [N, C, …], got \(x)") }
            if x.elementCount / x.shape[0] < 2 {
                throw OpError("'\(op)' needs at least 2 values per sample for the unbiased std, x is \(x)")
            }
            try ShapeRules.requireShape(types[1], [x.shape[1]], "gamma [C]", op: op)
            try ShapeRules.requireShape(types[2], [x.shape[1]], "beta [C]", op: op)
            return [TensorType(dtype, x.shape)]
        },
        kernel: { inputs, attrs, results in
            let x = inputs[0], gamma = inputs[1].scalars, beta = inputs[2].scalars
            let (n, c) = (x.shape[0], x.shape[1])
            let sampleSize = x.scalars.count / n, channelSize = sampleSize / c
            let eps = attrs.float("eps")
            var out = [Double](repeating: 0, count: x.scalars.count)
            x.scalars.withUnsafeBufferPointer { xs in
                for sample in 0..<n {
                    let start = sample * sampleSize
                    let (mean, squares) = moments(xs, runs: [start], length: sampleSize)
                    let inv = 1 / ((squares / Double(sampleSize - 1)).squareRoot() + eps)
                    for i in 0..<sampleSize {
                        let ch = i / channelSize
                        out[start + i] = (xs[start + i] - mean) * inv * gamma[ch] + beta[ch]
                    }
                }
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: OpDefinition.elementwiseCost(flopsPerElement: 8),
        vjp: { ctx in try affineNormVJP(ctx, forward: Ops.layerNorm, backward: Ops.layerNormBackward) })

    /// PyTorch's `BatchNorm2d` in training mode; the running statistics are the graph builder's business.
    public static let batchNorm: OpDefinition = OpDefinition(
        name: "batch_norm",
        summary: "training-mode batch norm: per channel of x[N,C,H,W] over (N, H, W), (x − mean) / √(var + eps) with "
            + "the biased variance, then gamma[c] · y + beta[c]",
        operands: .fixed(["x", "gamma", "beta"]),
        attributes: [epsAttribute],
        traits: .normalization,
        inferTypes: { types, _ throws(OpError) in
            let op = "batch_norm"
            let x = try imageInput(types, op: op)
            if x.elementCount / x.shape[1] < 2 {
                throw OpError("'\(op)' needs more than one value per channel in training mode, x is \(x)")
            }
            try ShapeRules.requireShape(types[1], [x.shape[1]], "gamma [C]", op: op)
            try ShapeRules.requireShape(types[2], [x.shape[1]], "beta [C]", op: op)
            return [x]
        },
        kernel: { inputs, attrs, results in
            let x = inputs[0], gamma = inputs[1].scalars, beta = inputs[2].scalars
            let (n, c, planeSize) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
            let eps = attrs.float("eps")
            var out = [Double](repeating: 0, count: x.scalars.count)
            x.scalars.withUnsafeBufferPointer { xs in
                for ch in 0..<c {
                    let runs = (0..<n).map { ($0 * c + ch) * planeSize }
                    let (mean, squares) = moments(xs, runs: runs, length: planeSize)
                    let inv = 1 / (squares / Double(n * planeSize) + eps).squareRoot()
                    for start in runs {
                        for i in start..<start + planeSize { out[i] = (xs[i] - mean) * inv * gamma[ch] + beta[ch] }
                    }
                }
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: OpDefinition.elementwiseCost(flopsPerElement: 8),
        vjp: { ctx in try affineNormVJP(ctx, forward: Ops.batchNorm, backward: Ops.batchNormBackward) })

    static let normalizationOps: [OpDefinition] = [instanceNorm, adain, layerNorm, batchNorm]
}

/// The VJP of a norm with per-channel affine, y = gamma[c]·x̂ + beta[c] (layer norm, batch norm): x gets
/// `backward` of gy·gamma; gamma gets Σ gy·x̂ and beta Σ gy over every axis but the channel axis 1. x̂ is
/// recomputed by `forward` with gamma 1 and beta 0 rather than recovered from y, which fails where gamma is 0.
private func affineNormVJP(_ ctx: VJPContext, forward: OpDefinition, backward: OpDefinition) throws -> [ValueID?] {
    let b = ctx.builder, g = ctx.gradient, x = ctx.operands[0]
    let shape = ctx.shape(0), channels = shape[1], dtype = b.dtype(of: x)
    // gamma[C] viewed as [C, 1, …] broadcasts over [N, C, …].
    let gamma = shape.count == 2 ? ctx.operands[1]
        : try b.reshape(ctx.operands[1], to: [channels] + Array(repeating: 1, count: shape.count - 2))
    let gx = try b.apply(backward, [x, b.mul(g, gamma)], ctx.attributes)
    let ones = try b.constant(value: 1, shape: [channels], dtype: dtype)
    let zeros = try b.constant(value: 0, shape: [channels], dtype: dtype)
    let xHat = try b.apply(forward, [x, ones, zeros], ctx.attributes)
    let axes = [0] + Array(2..<shape.count)
    return [gx, try b.reduceSum(b.mul(g, xHat), axes: axes), try b.reduceSum(g, axes: axes)]
}

/// The NCHW operand (and the dtype shared by all operands) of an image norm.
private func imageInput(_ types: [TensorType], op: String) throws(OpError) -> TensorType {
    let dtype = try ShapeRules.commonDType(types, op: op)
    try ShapeRules.requireRank(types[0], 4, "x [N, C, H, W]", op: op)
    return TensorType(dtype, types[0].shape)
}

/// The mean of the values in the contiguous runs `x[start..<start + length]`, and the sum of their squared
/// deviations from it.
func moments(_ x: UnsafeBufferPointer<Double>, runs: [Int], length: Int) -> (mean: Double, squares: Double) {
    var sum = 0.0
    for start in runs { for i in start..<start + length { sum += x[i] } }
    let mean = sum / Double(runs.count * length)
    var squares = 0.0
    for start in runs {
        for i in start..<start + length {
            let d = x[i] - mean
            squares += d * d
        }
    }
    return (mean, squares)
}

/// Instance norm of every (sample, channel) plane, then `· scale[plane] + shift[plane]` when given (AdaIN).
private func normalizePlanes(_ x: Tensor, eps: Double, scale: [Double]?, shift: [Double]?, result: TensorType) -> Tensor {
    let planeSize = x.shape[2] * x.shape[3]
    var out = [Double](repeating: 0, count: x.scalars.count)
    x.scalars.withUnsafeBufferPointer { xs in
        for plane in 0..<x.shape[0] * x.shape[1] {
            let start = plane * planeSize
            let (mean, squares) = moments(xs, runs: [start], length: planeSize)
            let inv = 1 / (squares / Double(planeSize) + eps).squareRoot()
            let (s, t) = (scale?[plane] ?? 1, shift?[plane] ?? 0)
            for i in start..<start + planeSize { out[i] = (xs[i] - mean) * inv * s + t }
        }
    }
    return Tensor(result, scalars: out)
}

// Builder methods for the norms.
extension GraphBuilder {
    /// Instance norm without affine (MUNIT's `in`).
    public func instanceNorm(_ x: ValueID, eps: Double = 1e-5) throws -> ValueID {
        try apply(Ops.instanceNorm, [x], ["eps": .float(eps)])
    }

    /// AdaIN: instance norm, then per-sample `weight[n, c]` scale and `bias[n, c]` shift.
    public func adain(_ x: ValueID, weight: ValueID, bias: ValueID, eps: Double = 1e-5) throws -> ValueID {
        try apply(Ops.adain, [x, weight, bias], ["eps": .float(eps)])
    }

    /// MUNIT's LayerNorm (unbiased std, eps added to the std) with per-channel `gamma` and `beta`.
    public func layerNorm(_ x: ValueID, gamma: ValueID, beta: ValueID, eps: Double = 1e-5) throws -> ValueID {
        try apply(Ops.layerNorm, [x, gamma, beta], ["eps": .float(eps)])
    }

    /// Training-mode batch norm with per-channel `gamma` and `beta` (running statistics not included).
    public func batchNorm(_ x: ValueID, gamma: ValueID, beta: ValueID, eps: Double = 1e-5) throws -> ValueID {
        try apply(Ops.batchNorm, [x, gamma, beta], ["eps": .float(eps)])
    }

    /// `batch_norm` in elementary ops: the per-channel mean, the (biased) variance centred on it, then the
    /// affine map. `statistic` sees each statistic as soon as it is reduced (`sync-batch-statistics` averages
    /// it over the ranks there); with one sample per rank the op itself would be refused on 1×1 planes, where
    /// only the ranks together hold more than one value per channel.
    public func batchNormSpelledOut(_ x: ValueID, gamma: ValueID, beta: ValueID, eps: Double = 1e-5,
                                    statistic: (ValueID) throws -> ValueID = { $0 }) throws -> ValueID {
        let channels = shape(of: x)[1]
        let mean = try statistic(reduceMean(x, axes: [0, 2, 3], keepdims: true))
        let centred = try sub(x, mean)
        let variance = try statistic(reduceMean(square(centred), axes: [0, 2, 3], keepdims: true))
        let normalized = try div(centred, sqrt(shift(variance, by: eps)))
        let perChannel = [1, channels, 1, 1]
        return try add(mul(normalized, reshape(gamma, to: perChannel)), reshape(beta, to: perChannel))
    }
}
