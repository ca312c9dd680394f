/// Gradients of the norms with respect to x, through the normalisation only: each takes x (the statistics are
/// recomputed from it, as the fused kernels will) and the gradient of the normalised value x̂ (the upstream
/// gradient already multiplied by any scale). The affine operands' gradients are reductions; see the VJP
/// rules in Normalization.swift.
extension Ops {
    /// Backward of x̂ = (x − mean)/√(var + eps) per (sample, channel) plane, biased variance: instance norm,
    /// and AdaIN's x gradient.
    public static let instanceNormBackward = OpDefinition(
        name: "instance_norm_backward",
        summary: "gradient of instance_norm: per (n, c) plane of x[N,C,H,W], gx = (gy − mean(gy) − x̂·mean(gy·x̂)) "
            + "/ √(var + eps), statistics recomputed from x",
        operands: .fixed(["x", "gy"]),
        attributes: [epsAttribute],
        traits: [.normalization, .backward, .streamsOperand],
        inferTypes: { types, _ throws(OpError) in [try normGradientInput(types, rank: 4, op: "instance_norm_backward")] },
        kernel: { inputs, attrs, results in
            let (x, gy) = (inputs[0].scalars, inputs[1].scalars)
            let planeSize = inputs[0].shape[2] * inputs[0].shape[3]
            var out = [Double](repeating: 0, count: x.count)
            for plane in 0..<inputs[0].shape[0] * inputs[0].shape[1] {
                standardizeBackward(x, gy, into: &out, runs: [plane * planeSize], length: planeSize, eps: attrs.float("eps"))
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: OpDefinition.elementwiseCost(flopsPerElement: 10))

    /// Backward of MUNIT's LayerNorm normalisation x̂ = (x − mean)/(σ + eps) per sample over all of C·H·W,
    /// σ the unbiased standard deviation.
    public static let layerNormBackward = OpDefinition(
        name: "layer_norm_backward",
        summary: "gradient of MUNIT's layer_norm normalisation: per sample of x[N,C,…], x̂ = (x − mean)/(σ + eps) "
            + "with the unbiased σ; gx = (gy − mean(gy))/(σ + eps) − (x − mean)·Σ gy·(x − mean) / ((σ + eps)²·(n − 1)·σ)",
        operands: .fixed(["x", "gy"]),
        attributes: [epsAttribute],
        traits: [.normalization, .backward, .streamsOperand],
        inferTypes: { types, _ throws(OpError) in
            let op = "layer_norm_backward"
            let x = try normGradientInput(types, rank: nil, op: op)
            if x.rank < 2 { throw OpError("'\(op)' needs x of rank 2 or more [N, C, …], got \(x)") }
            if x.elementCount / x.shape[0] < 2 {
                throw OpError("'\(op)' needs at least 2 values per sample for the unbiased std, x is \(x)")
            }
            return [x]
        },
        kernel: { inputs, attrs, results in
            let (x, gy) = (inputs[0].scalars, inputs[1].scalars)
            let sampleSize = x.count / inputs[0].shape[0]
            var out = [Double](repeating: 0, count: x.count)
            for start in stride(from: 0, to: x.count, by: sampleSize) {
                layerNormSampleBackward(x, gy, into: &out, start: start, count: sampleSize, eps: attrs.float("eps"))
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: OpDefinition.elementwiseCost(flopsPerElement: 10))

    /// Backward of training-mode batch norm's x̂ = (x − mean)/√(var + eps) per channel over (N, H, W),
    /// biased variance (the batch statistics depend on x, so they are differentiated too).
    public static let batchNormBackward = OpDefinition(
        name: "batch_norm_backward",
        summary: "gradient of training-mode batch_norm's normalisation: per channel of x[N,C,H,W] over (N, H, W), "
            + "gx = (gy − mean(gy) − x̂·mean(gy·x̂)) / √(var + eps), statistics recomputed from x",
        operands: .fixed(["x", "gy"]),
        attributes: [epsAttribute],
        traits: [.normalization, .backward, .streamsOperand],
        inferTypes: { types, _ throws(OpError) in
            let op = "batch_norm_backward"
            let x = try normGradientInput(types, rank: 4, op: op)
            if x.elementCount / x.shape[1] < 2 {
                throw OpError("'\(op)' needs more than one value per channel in training mode, x is \(x)")
            }
            return [x]
        },
        kernel: { inputs, attrs, results in
            let (x, gy) = (inputs[0].scalars, inputs[1].scalars)
            let (n, c, planeSize) = (inputs[0].shape[0], inputs[0].shape[1], inputs[0].shape[2] * inputs[0].shape[3])
            var out = [Double](repeating: 0, count: x.count)
            for ch in 0..<c {
                let runs = (0..<n).map { ($0 * c + ch) * planeSize }
                standardizeBackward(x, gy, into: &out, runs: runs, length: planeSize, eps: attrs.float("eps"))
            }
            return [Tensor(results[0], scalars: out)]
        },
        cost: OpDefinition.elementwiseCost(flopsPerElement: 10))

    static let normalizationBackwardOps: [OpDefinition] = [instanceNormBackward, layerNormBackward, batchNormBackward]
}

/// Checks the (x, gy) operands of a norm's backward op: one dtype, gy shaped like x, x of `rank` if given.
private func normGradientInput(_ types: [TensorType], rank: Int?, op: String) throws(OpError) -> TensorType {
    try OperandSpec.fixed(["x", "gy"]).require(types, op: op)
    let dtype = try ShapeRules.commonDType(types, op: op)
    if let rank { try ShapeRules.requireRank(types[0], rank, "x [N, C, H, W]", op: op) }
    try ShapeRules.requireShape(types[1], types[0].shape, "gy shaped like x", op: op)
    return TensorType(dtype, types[0].shape)
}

/// For x̂ = (x − mean)·r over the values in the runs `x[start..<start + length]`, r = 1/√(var + eps) with the
/// biased variance: gx = r·(gy − mean(gy) − x̂·mean(gy·x̂)), written into `out` at the same places.
private func standardizeBackward(_ x: [Double], _ gy: [Double], into out: inout [Double], runs: [Int], length: Int, eps: Double) {
    let (mean, squares) = x.withUnsafeBufferPointer { moments($0, runs: runs, length: length) }
    let count = Double(runs.count * length)
    let r = 1 / (squares / count + eps).squareRoot()
    var (sumG, sumGXHat) = (0.0, 0.0)
    for start in runs {
        for i in start..<start + length {
            sumG += gy[i]
            sumGXHat += gy[i] * (x[i] - mean) * r
        }
    }
    let (meanG, meanGXHat) = (sumG / count, sumGXHat / count)
    for start in runs {
        for i in start..<start + length { out[i] = r * (gy[i] - meanG - (x[i] - mean) * r * meanGXHat) }
    }
}

/// One sample of MUNIT's LayerNorm, x̂ = d/s with d = x − mean, s = σ + eps, σ² = Σd²/(n − 1). Since
/// ∂σ/∂x_j = d_j/((n − 1)σ), gx_j = (gy_j − mean(gy))/s − d_j·Σ gy·d / (s²·(n − 1)·σ). At σ = 0 (a constant
/// sample) the second term is 0: PyTorch defines std's gradient there as 0.
private func layerNormSampleBackward(_ x: [Double], _ gy: [Double], into out: inout [Double], start: Int, count n: Int, eps: Double) {
    let (mean, squares) = x.withUnsafeBufferPointer { moments($0, runs: [start], length: n) }
    let sigma = (squares / Double(n - 1)).squareRoot()
    let s = sigma + eps
    var (sumG, sumGD) = (0.0, 0.0)
    for i in start..<start + n {
        sumG += gy[i]
        sumGD += gy[i] * (x[i] - mean)
    }
    let meanG = sumG / Double(n)
    let coefficient = sigma > 0 ? sumGD / (s * s * Double(n - 1) * sigma) : 0
    for i in start..<start + n { out[i] = (gy[i] - meanG) / s - (x[i] - mean) * coefficient }
}

// Builder methods for the norms' gradients.
extension GraphBuilder {
    /// The gradient of `instanceNorm(x, eps:)` given the upstream gradient `gy`.
    public func instanceNormBackward(_ x: ValueID, _ gy: ValueID, eps: Double = 1e-5) throws -> ValueID {
        try apply(Ops.instanceNormBackward, [x, gy], ["eps": .float(eps)])
    }

    /// The gradient of MUNIT's layer-norm normalisation given the gradient `gy` of x̂ (upstream · gamma).
    public func layerNormBackward(_ x: ValueID, _ gy: ValueID, eps: Double = 1e-5) throws -> ValueID {
        try apply(Ops.layerNormBackward, [x, gy], ["eps": .float(eps)])
    }

    /// The gradient of training-mode batch norm's normalisation given the gradient `gy` of x̂ (upstream · gamma).
    public func batchNormBackward(_ x: ValueID, _ gy: ValueID, eps: Double = 1e-5) throws -> ValueID {
        try apply(Ops.batchNormBackward, [x, gy], ["eps": .float(eps)])
    }
}
