/// Values from attributes (constant), the gradient barrier (stop_gradient) and dtype conversion (cast).
extension Ops {
    static let dtypeNames = DType.allCases.map(\.rawValue)

    /// The dtype an attribute names (already checked against `dtypeNames`).
    static func dtypeAttribute(_ attrs: Attributes, op: String) throws(OpError) -> DType {
        let name = attrs.string("dtype")
        guard let dtype = DType(rawValue: name) else {
            throw OpError("'\(op)' dtype '\(name)' is not one of \(dtypeNames.joined(separator: ", "))")
        }
        return dtype
    }

    /// A tensor of `shape` (empty for a scalar) filled with `value`.
    public static let constant: OpDefinition = {
        let operands = OperandSpec.fixed([])
        return OpDefinition(
            name: "constant", summary: "a tensor of shape filled with value", operands: operands,
            attributes: [
                AttributeSpec("value", .float),
                AttributeSpec("shape", .ints, check: Check.tensorShape),
                AttributeSpec("dtype", .string, default: .string(DType.f32.rawValue), check: Check.oneOf(dtypeNames)),
            ],
            traits: .constant,
            inferTypes: { types, attrs throws(OpError) in
                try operands.require(types, op: "constant")
                let value = attrs.float("value")
                let dtype = try dtypeAttribute(attrs, op: "constant")
                // A finite value that rounds to infinity would silently change meaning.
                if !dtype.round(value).isFinite {
                    throw OpError("'constant' value \(value) overflows \(dtype.rawValue)")
                }
                return [TensorType(dtype, attrs.ints("shape"))]
            },
            kernel: { _, attrs, results in [Tensor(results[0], repeating: attrs.float("value"))] },
            cost: { _, results, _ in Cost(flops: 0, bytes: results[0].byteCount) })
    }()

    /// x unchanged; autodiff sends no gradient through it (PyTorch's `.detach()`).
    public static let stopGradient: OpDefinition = {
        let operands = OperandSpec.fixed(["x"])
        return OpDefinition(
            name: "stop_gradient", summary: "x, with no gradient flowing back (PyTorch's .detach())",
            operands: operands, traits: .gradientBarrier,
            inferTypes: { types, _ throws(OpError) in
                try operands.require(types, op: "stop_gradient")
                return [types[0]]
            },
            kernel: { inputs, _, _ in [inputs[0]] },
            cost: { _, _, _ in Cost(flops: 0, bytes: 0) })
    }()

    /// x converted to `dtype` (rounded to nearest when narrowing).
    public static let cast: OpDefinition = {
        let operands = OperandSpec.fixed(["x"])
        return OpDefinition(
            name: "cast", summary: "x converted to dtype", operands: operands,
            attributes: [AttributeSpec("dtype", .string, check: Check.oneOf(dtypeNames))],
            traits: .elementwise,
            inferTypes: { types, attrs throws(OpError) in
                try operands.require(types, op: "cast")
                let dtype = try dtypeAttribute(attrs, op: "cast")
                return [TensorType(dtype, types[0].shape)]
            },
            // The interpreter rounds the result to its dtype.
            kernel: { inputs, _, results in [Tensor(results[0], scalars: inputs[0].scalars)] },
            cost: OpDefinition.elementwiseCost(flopsPerElement: 0),
            vjp: { ctx in [try ctx.builder.cast(ctx.gradient, to: ctx.builder.dtype(of: ctx.operands[0]))] })
    }()

    static let sourceOps: [OpDefinition] = [constant, stopGradient, cast]
}

// Convenience methods for constants, stop_gradient and cast.
extension GraphBuilder {
    /// A tensor of `shape` (default: a scalar) filled with `value`.
    public func constant(value: Double, shape: [Int] = [], dtype: DType = .f32) throws -> ValueID {
        try apply(Ops.constant, [], ["value": .float(value), "shape": .ints(shape), "dtype": .string(dtype.rawValue)])
    }

    /// x, cut off from gradients (PyTorch's `.detach()`).
    public func stopGradient(_ x: ValueID) throws -> ValueID { try apply(Ops.stopGradient, [x]) }

    /// x converted to `dtype`.
    public func cast(_ x: ValueID, to dtype: DType) throws -> ValueID {
        try apply(Ops.cast, [x], ["dtype": .string(dtype.rawValue)])
    }
}
