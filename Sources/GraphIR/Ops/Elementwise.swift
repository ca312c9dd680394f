/// Pointwise ops: unary math, binary arithmetic with broadcasting, each with its VJP rule.
extension Ops {
    /// A one-operand op applying `f` to every element; `flops` per element for the cost model.
    static func unary(
        _ name: String, _ summary: String, traits: OpTraits = [], flops: Int = 1,
        attributes: [AttributeSpec] = [], vjp: VJPRule? = nil,
        _ f: @escaping @Sendable (Double, Attributes) -> Double
    ) -> OpDefinition {
        OpDefinition(
            name: name, summary: summary, operands: .fixed(["x"]), attributes: attributes,
            traits: traits.union(.elementwise),
            inferTypes: { types, _ throws(OpError) in [types[0]] },
            kernel: { inputs, attrs, _ in
                [Tensor(inputs[0].type, scalars: inputs[0].scalars.map { f($0, attrs) })]
            },
            cost: OpDefinition.elementwiseCost(flopsPerElement: flops), vjp: vjp)
    }

    /// A two-operand op with NumPy broadcasting applying `f` elementwise.
    static func binary(
        _ name: String, _ summary: String, traits: OpTraits = [], vjp: VJPRule? = nil,
        _ f: @escaping @Sendable (Double, Double) -> Double
    ) -> OpDefinition {
        OpDefinition(
            name: name, summary: summary, operands: .fixed(["lhs", "rhs"]),
            traits: traits.union([.elementwise, .broadcasting]),
            inferTypes: { types, _ throws(OpError) in
                let dtype = try ShapeRules.commonDType(types, op: name)
                return [TensorType(dtype, try ShapeRules.broadcast(types[0].shape, types[1].shape, op: name))]
            },
            kernel: { inputs, _, results in
                let shape = results[0].shape
                let a = inputs[0].broadcastScalars(to: shape), b = inputs[1].broadcastScalars(to: shape)
                var out = [Double](repeating: 0, count: a.count)
                for i in out.indices { out[i] = f(a[i], b[i]) }
                return [Tensor(results[0], scalars: out)]
            },
            vjp: vjp)
    }

    /// The VJP of a broadcasting binary op from the gradients it gives each operand at full (broadcast) size;
    /// each is then summed back to its operand's shape.
    static func broadcastVJP(
        _ partials: @escaping @Sendable (VJPContext, ValueID) throws -> (ValueID?, ValueID?)
    ) -> VJPRule {
        { ctx in
            let (ga, gb) = try partials(ctx, ctx.gradient)
            return [try ga.map { try ctx.builder.sumToShape($0, ctx.shape(0)) },
                    try gb.map { try ctx.builder.sumToShape($0, ctx.shape(1)) }]
        }
    }

    public static let add = binary("add", "lhs + rhs", traits: .commutative,
                                   vjp: broadcastVJP { _, g in (g, g) }) { $0 + $1 }
    public static let sub = binary("sub", "lhs − rhs",
                                   vjp: broadcastVJP { ctx, g in (g, try ctx.builder.neg(g)) }) { $0 - $1 }
    public static let mul = binary("mul", "lhs · rhs", traits: .commutative, vjp: broadcastVJP { ctx, g in
        let b = ctx.builder
        return (try b.mul(g, ctx.operands[1]), try b.mul(g, ctx.operands[0]))
    }) { $0 * $1 }
    public static let div = binary("div", "lhs / rhs", vjp: broadcastVJP { ctx, g in
        // d(a/b)/db = −(a/b)/b, written with the result to reuse it.
        let b = ctx.builder
        let ga = try b.div(g, ctx.operands[1])
        return (ga, try b.neg(b.mul(ga, ctx.result)))
    }) { $0 / $1 }
    /// Elementwise maximum. At ties the gradient is split evenly between the operands, as PyTorch does.
    public static let maximum = binary("maximum", "max(lhs, rhs)", traits: .commutative, vjp: broadcastVJP { ctx, g in
        try tieSplitGradients(ctx, g, lhsWinsWhere: 1)
    }) { Swift.max($0, $1) }
    /// Elementwise minimum; ties split the gradient evenly.
    public static let minimum = binary("minimum", "min(lhs, rhs)", traits: .commutative, vjp: broadcastVJP { ctx, g in
        try tieSplitGradients(ctx, g, lhsWinsWhere: -1)
    }) { Swift.min($0, $1) }

    /// For max/min: the lhs gets g·(1 + s·sign(lhs − rhs))/2 and the rhs the rest, so a tie gives each half.
    static func tieSplitGradients(_ ctx: VJPContext, _ g: ValueID, lhsWinsWhere s: Double) throws -> (ValueID, ValueID) {
        let b = ctx.builder
        let direction = try b.sign(b.sub(ctx.operands[0], ctx.operands[1]))
        let lhsShare = try b.shift(b.scale(direction, by: 0.5 * s), by: 0.5)
        let ga = try b.mul(g, lhsShare)
        return (ga, try b.sub(g, ga))
    }

    public static let neg = unary("neg", "−x", vjp: { ctx in [try ctx.builder.neg(ctx.gradient)] }) { x, _ in -x }
    /// |x|; its gradient at 0 is 0, as in PyTorch.
    public static let abs = unary("abs", "|x|", vjp: { ctx in
        [try ctx.builder.mul(ctx.gradient, ctx.builder.sign(ctx.operands[0]))]
    }) { x, _ in Swift.abs(x) }
    /// −1, 0 or 1; its gradient is zero everywhere (PyTorch's convention).
    public static let sign = unary("sign", "−1, 0 or 1 by the sign of x", vjp: { _ in [nil] }) { x, _ in
        x > 0 ? 1 : (x < 0 ? -1 : 0)
    }
    /// 1 where x > 0, else 0 (the Heaviside step with step(0) = 0): the mask in activation gradients, which
    /// follow PyTorch's conventions at 0. Its own gradient is zero.
    public static let step = unary("step", "1 if x > 0 else 0", vjp: { _ in [nil] }) { x, _ in x > 0 ? 1 : 0 }
    public static let square = unary("square", "x²", vjp: { ctx in
        [try ctx.builder.mul(ctx.gradient, ctx.builder.scale(ctx.operands[0], by: 2))]
    }) { x, _ in x * x }
    public static let sqrt = unary("sqrt", "√x", flops: 4, vjp: { ctx in
        [try ctx.builder.div(ctx.gradient, ctx.builder.scale(ctx.result, by: 2))]
    }) { x, _ in x.squareRoot() }
    public static let exp = unary("exp", "eˣ", flops: 8, vjp: { ctx in
        [try ctx.builder.mul(ctx.gradient, ctx.result)]
    }) { x, _ in _exp(x) }
    public static let log = unary("log", "natural logarithm", flops: 8, vjp: { ctx in
        [try ctx.builder.div(ctx.gradient, ctx.operands[0])]
    }) { x, _ in _log(x) }
    public static let reciprocal = unary("reciprocal", "1 / x", flops: 4, vjp: { ctx in
        let b = ctx.builder
        return [try b.neg(b.mul(ctx.gradient, b.square(ctx.result)))]
    }) { x, _ in 1 / x }
    /// Multiplies by a constant; the cheap form of `mul` with a scalar that canonicalisation produces.
    public static let scale = unary(
        "scale", "x · factor", attributes: [AttributeSpec("factor", .float)],
        vjp: { ctx in [try ctx.builder.scale(ctx.gradient, by: ctx.attributes.float("factor"))] }
    ) { x, attrs in x * attrs.float("factor") }
    /// Adds a constant.
    public static let shift = unary(
        "shift", "x + offset", attributes: [AttributeSpec("offset", .float)],
        vjp: { ctx in [ctx.gradient] }
    ) { x, attrs in x + attrs.float("offset") }

    static let elementwiseOps: [OpDefinition] = [
        add, sub, mul, div, maximum, minimum, neg, abs, sign, step, square, sqrt, exp, log, reciprocal, scale, shift,
    ]
}
