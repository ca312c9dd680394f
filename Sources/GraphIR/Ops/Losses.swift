/// Loss pieces. Only binary cross-entropy is an op; MUNIT's L1, LSGAN and NSGAN losses are composed from
/// primitives by the builder helpers below, so autodiff, fusion and the backend need nothing loss-specific.
extension Ops {
    /// PyTorch's `F.binary_cross_entropy` before the mean: −(t·log p + (1 − t)·log(1 − p)) with each log
    /// clamped at −100, so p = 0 or 1 gives a loss of 100 instead of infinity. p outside [0, 1] gives NaN
    /// (PyTorch raises instead; the interpreter has no data-dependent errors).
    public static let binaryCrossEntropy: OpDefinition = {
        let operands = OperandSpec.fixed(["p", "target"])
        return OpDefinition(
            name: "binary_cross_entropy", summary: "−(t·max(log p, −100) + (1 − t)·max(log(1 − p), −100))",
            operands: operands, traits: [.loss, .elementwise, .broadcasting],
            inferTypes: { types, _ throws(OpError) in
                try operands.require(types, op: "binary_cross_entropy")
                let dtype = try ShapeRules.commonDType(types, op: "binary_cross_entropy")
                let shape = try ShapeRules.broadcast(types[0].shape, types[1].shape, op: "binary_cross_entropy")
                return [TensorType(dtype, shape)]
            },
            kernel: { inputs, _, results in
                let shape = results[0].shape
                let p = inputs[0].broadcastScalars(to: shape), t = inputs[1].broadcastScalars(to: shape)
                var out = [Double](repeating: 0, count: p.count)
                for i in out.indices {
                    // PyTorch's CPU formula, log1p(−p) included (it is exact for p near 0).
                    out[i] = (t[i] - 1) * Swift.max(_log1p(-p[i]), -100) - t[i] * Swift.max(_log(p[i]), -100)
                }
                return [Tensor(results[0], scalars: out)]
            },
            cost: OpDefinition.elementwiseCost(flopsPerElement: 20),
            vjp: { ctx in
                // PyTorch: ∂/∂p = (p − t) / max(p·(1 − p), 1e-12); ∂/∂t = max(log(1 − p), −100) − max(log p, −100).
                let b = ctx.builder, p = ctx.operands[0], t = ctx.operands[1], g = ctx.gradient
                let dtype = b.dtype(of: p)
                let oneMinusP = try b.shift(b.neg(p), by: 1)
                let denominator = try b.maximum(b.mul(p, oneMinusP), b.constant(value: 1e-12, dtype: dtype))
                let gp = try b.div(b.mul(g, b.sub(p, t)), denominator)
                let floor = try b.constant(value: -100, dtype: dtype)
                let dt = try b.sub(b.maximum(b.log(oneMinusP), floor), b.maximum(b.log(p), floor))
                return [try b.sumToShape(gp, ctx.shape(0)), try b.sumToShape(b.mul(g, dt), ctx.shape(1))]
            })
    }()

    static let lossOps: [OpDefinition] = [binaryCrossEntropy]
}

// Convenience methods for binary cross-entropy and the composed MUNIT losses.
extension GraphBuilder {
    /// Elementwise binary cross-entropy of probabilities `p` against `target` (broadcast), not averaged.
    public func binaryCrossEntropy(_ p: ValueID, _ target: ValueID) throws -> ValueID {
        try apply(Ops.binaryCrossEntropy, [p, target])
    }

    /// MUNIT's `recon_criterion`: mean(|a − b|) over all elements, a rank-0 scalar.
    public func l1Loss(_ a: ValueID, _ b: ValueID) throws -> ValueID {
        try meanAll(abs(sub(a, b)))
    }

    /// The LSGAN term of one discriminator output: mean((x − target)²), a rank-0 scalar (target 0 for the
    /// discriminator's fake term, 1 for its real term and the generator's term).
    public func lsganLoss(_ x: ValueID, target: Double) throws -> ValueID {
        let diff = target == 0 ? x : try shift(x, by: -target)
        return try meanAll(square(diff))
    }

    /// The NSGAN term of one discriminator output (logits): mean(BCE(sigmoid(x), target)), a rank-0 scalar.
    public func nsganLoss(_ x: ValueID, target: Double) throws -> ValueID {
        guard (0...1).contains(target) else { throw OpError("nsganLoss: target \(target) is not in [0, 1]") }
        let t = try constant(value: target, dtype: dtype(of: x))
        return try meanAll(binaryCrossEntropy(sigmoid(x), t))
    }
}
