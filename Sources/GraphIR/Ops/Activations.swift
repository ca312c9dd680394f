/// Pointwise nonlinearities (MUNIT's `activ` choices): relu, leaky relu, PReLU, SELU, tanh, sigmoid.
extension Ops {
    /// max(x, 0); NaN stays NaN, as in PyTorch.
    /// Its gradient at 0 is 0, as in PyTorch.
    public static let relu = unary("relu", "max(x, 0)", traits: .activation, vjp: { ctx in
        [try ctx.builder.mul(ctx.gradient, ctx.builder.step(ctx.operands[0]))]
    }) { x, _ in x < 0 ? 0 : x }

    /// x for x ≥ 0, slope · x below (PyTorch's `negative_slope`; MUNIT's `lrelu` uses 0.2).
    public static let leakyRelu = unary(
        "leaky_relu", "x if x ≥ 0 else slope · x", traits: .activation,
        attributes: [AttributeSpec("slope", .float, default: .float(0.2))],
        vjp: { ctx in
            // PyTorch: g where x > 0, slope · g elsewhere (0 included).
            let b = ctx.builder, slope = ctx.attributes.float("slope")
            let factor = try b.shift(b.scale(b.step(ctx.operands[0]), by: 1 - slope), by: slope)
            return [try b.mul(ctx.gradient, factor)]
        }
    ) { x, attrs in x < 0 ? x * attrs.float("slope") : x }

    /// PyTorch's `nn.PReLU`: a learned slope per channel (axis 1), or one slope shared by every element.
    public static let prelu: OpDefinition = {
        let operands = OperandSpec.fixed(["x", "slope"])
        return OpDefinition(
            name: "prelu", summary: "x if x ≥ 0 else slope[c] · x, c the channel (axis 1)", operands: operands,
            traits: [.activation, .elementwise],
            inferTypes: { types, _ throws(OpError) in
                try operands.require(types, op: "prelu")
                let dtype = try ShapeRules.commonDType(types, op: "prelu")
                let x = types[0], slope = types[1]
                guard slope.rank == 1 else {
                    throw OpError("'prelu' needs slope of rank 1 ([1] or [channels]), got \(slope)")
                }
                // One shared slope fits any x; PyTorch treats inputs of rank < 2 as having one channel.
                let channels = x.rank >= 2 ? x.shape[1] : 1
                if slope.shape[0] != 1 && slope.shape[0] != channels {
                    throw OpError("'prelu' slope \(slope) must have 1 or \(channels) elements (the channels of x \(x))")
                }
                return [TensorType(dtype, x.shape)]
            },
            kernel: { inputs, _, results in
                let x = inputs[0], slopes = inputs[1].scalars
                // Elements of one channel are contiguous runs of `inner` (the product of the axes after 1).
                let inner = x.shape.count >= 2 ? x.shape.dropFirst(2).reduce(1, *) : 1
                var out = x.scalars
                for i in out.indices where out[i] < 0 {
                    let channel = slopes.count == 1 ? 0 : (i / inner) % slopes.count
                    out[i] *= slopes[channel]
                }
                return [Tensor(results[0], scalars: out)]
            },
            vjp: { ctx in
                // x > 0: g flows to x; elsewhere slope·g flows to x and g·x to the slope of that channel.
                let b = ctx.builder, x = ctx.operands[0], g = ctx.gradient
                let xShape = ctx.shape(0), slopeShape = ctx.shape(1)
                var slopeView = [Int](repeating: 1, count: Swift.max(xShape.count, 1))
                if xShape.count >= 2 { slopeView[1] = slopeShape[0] }
                let slope = try b.reshape(ctx.operands[1], to: slopeView)
                let positive = try b.step(x)
                let negativeX = try b.sub(x, b.mul(x, positive))
                let gx = try b.mul(g, b.add(positive, b.sub(slope, b.mul(slope, positive))))
                let gSlope = try b.reshape(b.sumToShape(b.mul(g, negativeX), slopeView), to: slopeShape)
                return [gx, gSlope]
            })
    }()

    /// The constants of SELU (Klambauer et al. 2017) as PyTorch spells them; the backend's lowering reads
    /// them from here.
    public static let seluAlpha = 1.6732632423543772848170429916717
    public static let seluScale = 1.0507009873554804934193349852946

    /// scale · (x if x > 0 else alpha · (eˣ − 1)); expm1 keeps small negative inputs accurate.
    public static let selu = unary(
        "selu", "scale · (x if x > 0 else alpha · (eˣ − 1))", traits: .activation, flops: 8,
        vjp: { ctx in
            // PyTorch: scale for x > 0, scale · alpha · eˣ for x ≤ 0.
            let b = ctx.builder, x = ctx.operands[0]
            let positive = try b.step(x)
            let negativeSlope = try b.scale(b.exp(x), by: seluScale * seluAlpha)
            let slope = try b.add(b.scale(positive, by: seluScale), b.sub(negativeSlope, b.mul(negativeSlope, positive)))
            return [try b.mul(ctx.gradient, slope)]
        }
    ) { x, _ in seluScale * (x > 0 ? x : seluAlpha * _expm1(x)) }

    public static let tanh = unary("tanh", "hyperbolic tangent", traits: .activation, flops: 8, vjp: { ctx in
        let b = ctx.builder  // 1 − tanh²
        return [try b.mul(ctx.gradient, b.shift(b.neg(b.square(ctx.result)), by: 1))]
    }) { x, _ in _tanh(x) }

    /// 1 / (1 + e⁻ˣ), evaluated so that the exponential never overflows: for x < 0 it uses eˣ / (1 + eˣ),
    /// which also keeps the relative precision of tiny results.
    public static let sigmoid = unary("sigmoid", "1 / (1 + e⁻ˣ)", traits: .activation, flops: 8, vjp: { ctx in
        let b = ctx.builder, y = ctx.result  // y · (1 − y)
        return [try b.mul(ctx.gradient, b.mul(y, b.shift(b.neg(y), by: 1)))]
    }) { x, _ in
        if x >= 0 { return 1 / (1 + _exp(-x)) }
        let e = _exp(x)
        return e / (1 + e)
    }

    static let activationOps: [OpDefinition] = [relu, leakyRelu, prelu, selu, tanh, sigmoid]
}

extension OperandSpec {
    /// Throws the operand-count message; shape rules call it first so that a node built with the wrong
    /// number of operands is an `OpError` rather than an out-of-range crash.
    func require(_ types: [TensorType], op: String) throws(OpError) {
        if let message = check(types.count, op: op) { throw OpError(message) }
    }
}

// Convenience methods for the activation group.
extension GraphBuilder {
    /// max(x, 0).
    public func relu(_ x: ValueID) throws -> ValueID { try apply(Ops.relu, [x]) }

    /// x for x ≥ 0, `slope` · x below (MUNIT's `lrelu` is slope 0.2).
    public func leakyRelu(_ x: ValueID, slope: Double = 0.2) throws -> ValueID {
        try apply(Ops.leakyRelu, [x], ["slope": .float(slope)])
    }

    /// PyTorch's `nn.PReLU`: `slope` is a parameter of shape [1] (MUNIT's) or [channels].
    public func prelu(_ x: ValueID, slope: ValueID) throws -> ValueID { try apply(Ops.prelu, [x, slope]) }

    /// Scaled exponential linear unit with PyTorch's constants.
    public func selu(_ x: ValueID) throws -> ValueID { try apply(Ops.selu, [x]) }

    /// Hyperbolic tangent (MUNIT's decoder output).
    public func tanh(_ x: ValueID) throws -> ValueID { try apply(Ops.tanh, [x]) }

    /// The logistic function, stable for large |x|.
    public func sigmoid(_ x: ValueID) throws -> ValueID { try apply(Ops.sigmoid, [x]) }
}
