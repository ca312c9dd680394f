/// Pointwise ops: unary math, binary arithmetic with broadcasting.
extension Ops {
    /// A one-operand op applying `f` to every element; `flops` per element for the cost model.
    static func unary(
        _ name: String, _ summary: String, traits: OpTraits = [], flops: Int = 1,
        attributes: [AttributeSpec] = [], _ f: @escaping @Sendable (Double, Attributes) -> Double
    ) -> OpDefinition {
        OpDefinition(
            name: name, summary: summary, operands: .fixed(["x"]), attributes: attributes,
            traits: traits.union(.elementwise),
            inferTypes: { types, _ throws(OpError) in [types[0]] },
            kernel: { inputs, attrs, _ in
                [Tensor(inputs[0].type, scalars: inputs[0].scalars.map { f($0, attrs) })]
            },
            cost: OpDefinition.elementwiseCost(flopsPerElement: flops))
    }

    /// A two-operand op with NumPy broadcasting applying `f` elementwise.
    static func binary(
        _ name: String, _ summary: String, traits: OpTraits = [],
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
            })
    }

    public static let add = binary("add", "lhs + rhs", traits: .commutative) { $0 + $1 }
    public static let sub = binary("sub", "lhs − rhs") { $0 - $1 }
    public static let mul = binary("mul", "lhs · rhs", traits: .commutative) { $0 * $1 }
    public static let div = binary("div", "lhs / rhs") { $0 / $1 }
    /// Elementwise maximum; ties give the lhs (PyTorch routes the gradient of `max` at ties evenly, but no
    /// MUNIT formula needs ties).
    public static let maximum = binary("maximum", "max(lhs, rhs)", traits: .commutative) { Swift.max($0, $1) }
    public static let minimum = binary("minimum", "min(lhs, rhs)", traits: .commutative) { Swift.min($0, $1) }

    public static let neg = unary("neg", "−x") { x, _ in -x }
    public static let abs = unary("abs", "|x|") { x, _ in Swift.abs(x) }
    public static let square = unary("square", "x²") { x, _ in x * x }
    public static let sqrt = unary("sqrt", "√x", flops: 4) { x, _ in x.squareRoot() }
    public static let exp = unary("exp", "eˣ", flops: 8) { x, _ in _exp(x) }
    public static let log = unary("log", "natural logarithm", flops: 8) { x, _ in _log(x) }
    public static let reciprocal = unary("reciprocal", "1 / x", flops: 4) { x, _ in 1 / x }
    /// Multiplies by a constant; the cheap form of `mul` with a scalar that canonicalisation produces.
    public static let scale = unary(
        "scale", "x · factor", attributes: [AttributeSpec("factor", .float)]
    ) { x, attrs in x * attrs.float("factor") }
    /// Adds a constant.
    public static let shift = unary(
        "shift", "x + offset", attributes: [AttributeSpec("offset", .float)]
    ) { x, attrs in x + attrs.float("offset") }

    static let elementwiseOps: [OpDefinition] = [
        add, sub, mul, div, maximum, minimum, neg, abs, square, sqrt, exp, log, reciprocal, scale, shift,
    ]
}
