/// Ops that move or view data without arithmetic: reshape, transpose, slice, concat, broadcast_to.
extension Ops {
    /// The same elements in row-major order under a new shape; a view, so it costs nothing.
    public static let reshape: OpDefinition = {
        let operands = OperandSpec.fixed(["x"])
        return OpDefinition(
            name: "reshape", summary: "x viewed with a new shape (same element count, row-major)",
            operands: operands, attributes: [AttributeSpec("shape", .ints, check: Check.tensorShape)], traits: .layout,
            inferTypes: { types, attrs throws(OpError) in
                try operands.require(types, op: "reshape")
                let x = types[0], shape = attrs.ints("shape")
                let result = TensorType(x.dtype, shape)
                if result.elementCount != x.elementCount {
                    throw OpError("'reshape' cannot view \(x) (\(x.elementCount) elements) as \(shape) "
                        + "(\(result.elementCount) elements)")
                }
                return [result]
            },
            kernel: { inputs, _, results in [Tensor(results[0], scalars: inputs[0].scalars)] },
            cost: { _, _, _ in Cost(flops: 0, bytes: 0) }, vjp: reshapeVJP)
    }()

    /// Result axis i is operand axis perm[i] (NumPy's `transpose(axes)`, PyTorch's `permute`).
    public static let transpose: OpDefinition = {
        let operands = OperandSpec.fixed(["x"])
        return OpDefinition(
            name: "transpose", summary: "x with its axes permuted: result axis i is x's axis perm[i]",
            operands: operands, attributes: [AttributeSpec("perm", .ints, check: Check.permutation)],
            traits: .layout,
            inferTypes: { types, attrs throws(OpError) in
                try operands.require(types, op: "transpose")
                let x = types[0], perm = attrs.ints("perm")
                if perm.count != x.rank {
                    throw OpError("'transpose' perm \(perm) has \(perm.count) axes, but x \(x) has rank \(x.rank)")
                }
                return [TensorType(x.dtype, perm.map { x.shape[$0] })]
            },
            kernel: { inputs, attrs, results in
                let x = inputs[0], perm = attrs.ints("perm")
                let xStrides = x.type.strides
                // Walk the result in order; its axis i steps through x with x's stride for axis perm[i].
                let strides = perm.map { xStrides[$0] }
                var out = [Double](repeating: 0, count: x.scalars.count)
                forEachOffset(shape: results[0].shape, strides: strides) { i, source in out[i] = x.scalars[source] }
                return [Tensor(results[0], scalars: out)]
            },
            cost: copyCost, vjp: transposeVJP)
    }()

    /// The box starts[i] ..< ends[i] on every axis (unit steps).
    public static let slice: OpDefinition = {
        let operands = OperandSpec.fixed(["x"])
        return OpDefinition(
            name: "slice", summary: "the box x[starts[i] ..< ends[i]] on every axis i",
            operands: operands,
            attributes: [
                AttributeSpec("starts", .ints, check: Check.nonNegativeInts),
                AttributeSpec("ends", .ints, check: Check.nonNegativeInts),
            ],
            traits: .layout,
            inferTypes: { types, attrs throws(OpError) in
                try operands.require(types, op: "slice")
                let x = types[0], starts = attrs.ints("starts"), ends = attrs.ints("ends")
                guard starts.count == x.rank, ends.count == x.rank else {
                    throw OpError("'slice' needs one start and one end per axis of \(x), "
                        + "got starts \(starts) and ends \(ends)")
                }
                for axis in 0..<x.rank where !(starts[axis] < ends[axis] && ends[axis] <= x.shape[axis]) {
                    throw OpError("'slice' range \(starts[axis])..<\(ends[axis]) on axis \(axis) must be non-empty "
                        + "and within 0..<\(x.shape[axis]) (x is \(x))")
                }
                return [TensorType(x.dtype, zip(starts, ends).map { $1 - $0 })]
            },
            kernel: { inputs, attrs, results in
                let x = inputs[0], starts = attrs.ints("starts")
                let strides = x.type.strides
                let origin = zip(starts, strides).reduce(0) { $0 + $1.0 * $1.1 }
                var out = [Double](repeating: 0, count: results[0].elementCount)
                forEachOffset(shape: results[0].shape, strides: strides) { i, offset in
                    out[i] = x.scalars[origin + offset]
                }
                return [Tensor(results[0], scalars: out)]
            },
            cost: copyCost, vjp: sliceVJP)
    }()

    /// Operands joined along `axis`; every other dimension must agree.
    public static let concat: OpDefinition = {
        let operands = OperandSpec.variadic("x", minimum: 1)
        return OpDefinition(
            name: "concat", summary: "the operands joined along axis", operands: operands,
            attributes: [AttributeSpec("axis", .int, check: Check.int(minimum: 0))], traits: .layout,
            inferTypes: { types, attrs throws(OpError) in
                try operands.require(types, op: "concat")
                let dtype = try ShapeRules.commonDType(types, op: "concat")
                let first = types[0], axis = attrs.int("axis")
                if axis >= first.rank {
                    throw OpError("'concat' axis \(axis) is out of range for \(first) (rank \(first.rank))")
                }
                var shape = first.shape
                for (i, t) in types.enumerated().dropFirst() {
                    var other = t.shape
                    if other.count == shape.count { other[axis] = shape[axis] }
                    if other != shape {
                        throw OpError(
                            "'concat' operand \(i) \(t) does not match operand 0 \(first) outside axis \(axis)")
                    }
                    shape[axis] = try ShapeRules.sum(shape[axis], t.shape[axis], op: "concat", "size along axis \(axis) =")
                }
                return [try ShapeRules.validated(dtype, shape, op: "concat")]
            },
            kernel: { inputs, attrs, results in
                let axis = attrs.int("axis")
                // Row-major: the result is, for each index of the axes before `axis`, the operands' blocks
                // (their axis and everything after it) one after another.
                let outer = results[0].shape[..<axis].reduce(1, *)
                var out: [Double] = []
                out.reserveCapacity(results[0].elementCount)
                for o in 0..<outer {
                    for x in inputs {
                        let block = x.scalars.count / outer
                        out.append(contentsOf: x.scalars[(o * block)..<((o + 1) * block)])
                    }
                }
                return [Tensor(results[0], scalars: out)]
            },
            cost: copyCost, vjp: concatVJP)
    }()

    /// x stretched to `shape` by NumPy broadcasting (x's size-1 and missing leading axes repeat).
    public static let broadcastTo: OpDefinition = {
        let operands = OperandSpec.fixed(["x"])
        return OpDefinition(
            name: "broadcast_to", summary: "x repeated along its size-1 and missing leading axes to shape",
            operands: operands, attributes: [AttributeSpec("shape", .ints, check: Check.tensorShape)], traits: .layout,
            inferTypes: { types, attrs throws(OpError) in
                try operands.require(types, op: "broadcast_to")
                let x = types[0], shape = attrs.ints("shape")
                let lead = shape.count - x.rank
                let fits = lead >= 0 && x.shape.enumerated().allSatisfy { $1 == 1 || $1 == shape[lead + $0] }
                if !fits { throw OpError("'broadcast_to' cannot broadcast \(x) to \(shape)") }
                return [TensorType(x.dtype, shape)]
            },
            kernel: { inputs, _, results in
                [Tensor(results[0], scalars: inputs[0].broadcastScalars(to: results[0].shape))]
            },
            cost: copyCost, vjp: broadcastToVJP)
    }()

    /// Data movement only: every operand read once, the result written once.
    static let copyCost: OpDefinition.CostRule = { operands, results, _ in
        Cost(flops: 0, bytes: Cost.bytes(operands + results))
    }

    static let layoutOps: [OpDefinition] = [reshape, transpose, slice, concat, broadcastTo]
}

extension Check {
    /// A valid tensor shape (positive dimensions, bounded size); empty for a scalar.
    public static let tensorShape: @Sendable (AttributeValue) -> String? = { value in
        guard let shape = value.intsValue else { return "expected a list of ints" }
        return TensorType.validate(shape: shape)
    }

    /// A permutation of 0 ..< count.
    public static let permutation: @Sendable (AttributeValue) -> String? = { value in
        guard let perm = value.intsValue else { return "expected a list of ints" }
        if perm.sorted() != Array(0..<perm.count) { return "\(perm) is not a permutation of 0..<\(perm.count)" }
        return nil
    }

    /// Ints that are all at least 0.
    public static let nonNegativeInts: @Sendable (AttributeValue) -> String? = { value in
        guard let v = value.intsValue else { return "expected a list of ints" }
        if let bad = v.first(where: { $0 < 0 }) { return "value \(bad) is negative" }
        return nil
    }
}

// Convenience methods for the layout group.
extension GraphBuilder {
    /// x viewed with `shape`; at most one entry may be -1, which is inferred from the element count.
    public func reshape(_ x: ValueID, to shape: [Int]) throws -> ValueID {
        var resolved = shape
        let holes = shape.indices.filter { shape[$0] == -1 }
        if holes.count > 1 { throw OpError("'reshape' to \(shape): only one dimension may be -1") }
        if let hole = holes.first {
            let known = shape.filter { $0 != -1 }
            let elements = self.type(of: x).elementCount
            guard known.allSatisfy({ $0 > 0 }), elements % known.reduce(1, *) == 0 else {
                throw OpError("'reshape' cannot infer the -1 in \(shape) for \(self.type(of: x))")
            }
            resolved[hole] = elements / known.reduce(1, *)
        }
        return try apply(Ops.reshape, [x], ["shape": .ints(resolved)])
    }

    /// Result axis i is x's axis perm[i].
    public func transpose(_ x: ValueID, perm: [Int]) throws -> ValueID {
        try apply(Ops.transpose, [x], ["perm": .ints(perm)])
    }

    /// The box starts[i] ..< ends[i] on every axis.
    public func slice(_ x: ValueID, starts: [Int], ends: [Int]) throws -> ValueID {
        try apply(Ops.slice, [x], ["starts": .ints(starts), "ends": .ints(ends)])
    }

    /// `xs` joined along `axis`.
    public func concat(_ xs: [ValueID], axis: Int) throws -> ValueID {
        try apply(Ops.concat, xs, ["axis": .int(axis)])
    }

    /// x broadcast (NumPy rules) to `shape`.
    public func broadcast(_ x: ValueID, to shape: [Int]) throws -> ValueID {
        try apply(Ops.broadcastTo, [x], ["shape": .ints(shape)])
    }
}

// VJP rules of the layout ops: each moves the gradient back the way the op moved the data.
extension Ops {
    static let reshapeVJP: VJPRule = { ctx in [try ctx.builder.reshape(ctx.gradient, to: ctx.shape(0))] }

    static let transposeVJP: VJPRule = { ctx in
        let perm = ctx.attributes.ints("perm")
        var inverse = [Int](repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return [try ctx.builder.transpose(ctx.gradient, perm: inverse)]
    }

    /// The gradient placed back at its offsets, zeros around it: along each sliced axis, zeros are
    /// concatenated before and after.
    static let sliceVJP: VJPRule = { ctx in
        let b = ctx.builder, full = ctx.shape(0)
        let starts = ctx.attributes.ints("starts"), ends = ctx.attributes.ints("ends")
        var g = ctx.gradient
        for axis in full.indices where starts[axis] > 0 || ends[axis] < full[axis] {
            var pieces: [ValueID] = []
            func zeros(_ size: Int) throws -> ValueID {
                var shape = b.shape(of: g)
                shape[axis] = size
                return try b.constant(value: 0, shape: shape, dtype: b.dtype(of: g))
            }
            if starts[axis] > 0 { pieces.append(try zeros(starts[axis])) }
            pieces.append(g)
            if ends[axis] < full[axis] { pieces.append(try zeros(full[axis] - ends[axis])) }
            g = try b.concat(pieces, axis: axis)
        }
        return [g]
    }

    static let concatVJP: VJPRule = { ctx in
        let b = ctx.builder, axis = ctx.attributes.int("axis"), full = b.shape(of: ctx.result)
        var offset = 0
        return try ctx.operands.indices.map { i in
            let size = ctx.shape(i)[axis]
            var starts = [Int](repeating: 0, count: full.count), ends = full
            starts[axis] = offset
            ends[axis] = offset + size
            offset += size
            return try b.slice(ctx.gradient, starts: starts, ends: ends)
        }
    }

    static let broadcastToVJP: VJPRule = { ctx in [try ctx.builder.sumToShape(ctx.gradient, ctx.shape(0))] }
}
