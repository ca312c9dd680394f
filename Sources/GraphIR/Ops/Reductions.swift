/// Sums and means over a set of axes.
extension Ops {
    /// A reduction over the attribute `axes` (canonical: sorted, distinct) that combines the sum of the
    /// reduced elements and their count with `finish`.
    static func reduction(
        _ name: String, _ summary: String, averages: Bool,
        finish: @escaping @Sendable (_ sum: Double, _ count: Int) -> Double
    ) -> OpDefinition {
        let operands = OperandSpec.fixed(["x"])
        return OpDefinition(
            name: name, summary: summary, operands: operands,
            attributes: [
                AttributeSpec("axes", .ints, check: Check.canonicalAxes),
                AttributeSpec("keepdims", .bool, default: .bool(false)),
            ],
            traits: [.reduction, .streamsOperand],
            inferTypes: { types, attrs throws(OpError) in
                try operands.require(types, op: name)
                let x = types[0], axes = attrs.ints("axes")
                if let bad = axes.first(where: { $0 >= x.rank }) {
                    throw OpError("'\(name)' axis \(bad) is out of range for \(x) (rank \(x.rank))")
                }
                return [TensorType(x.dtype, reducedShape(x.shape, axes, keepdims: attrs.bool("keepdims")))]
            },
            kernel: { inputs, attrs, results in
                let x = inputs[0], axes = attrs.ints("axes")
                let kept = reducedShape(x.shape, axes, keepdims: true)
                // Each input element adds into the output slot it maps to with the reduced axes pinned to 0,
                // which is exactly broadcasting the kept shape back onto the input shape, read in reverse.
                let strides = Strides.broadcast(kept, to: x.shape)
                var sums = [Double](repeating: 0, count: kept.reduce(1, *))
                forEachOffset(shape: x.shape, strides: strides) { i, target in sums[target] += x.scalars[i] }
                let count = axes.reduce(1) { $0 * x.shape[$1] }
                return [Tensor(results[0], scalars: sums.map { finish($0, count) })]
            },
            cost: { operands, results, _ in
                Cost(flops: operands[0].elementCount, bytes: operands[0].byteCount + results[0].byteCount)
            },
            vjp: { ctx in
                // Every reduced element receives the gradient of its output slot (divided by the count for a
                // mean): reshape to the kept shape, then broadcast back over the reduced axes.
                let b = ctx.builder, shape = ctx.shape(0), axes = ctx.attributes.ints("axes")
                let kept = reducedShape(shape, axes, keepdims: true)
                var g = try b.reshape(ctx.gradient, to: kept)
                if averages { g = try b.scale(g, by: 1 / Double(axes.reduce(1) { $0 * shape[$1] })) }
                return [try b.broadcast(g, to: shape)]
            })
    }

    /// `shape` with `axes` set to 1 (`keepdims`) or removed.
    static func reducedShape(_ shape: [Int], _ axes: [Int], keepdims: Bool) -> [Int] {
        var result: [Int] = []
        for (axis, d) in shape.enumerated() {
            if !axes.contains(axis) { result.append(d) } else if keepdims { result.append(1) }
        }
        return result
    }

    /// Walks a row-major `shape`, calling `body(i, offset)` with each element's linear index and its offset
    /// under `strides` (kept in step with an odometer rather than recomputed per element).
    static func forEachOffset(shape: [Int], strides: [Int], _ body: (Int, Int) -> Void) {
        let count = shape.reduce(1, *)
        var index = [Int](repeating: 0, count: shape.count)
        var offset = 0
        for i in 0..<count {
            body(i, offset)
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                offset += strides[axis]
                if index[axis] < shape[axis] { break }
                offset -= strides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    public static let reduceSum = reduction("reduce_sum", "Σ x over axes", averages: false) { sum, _ in sum }
    public static let reduceMean = reduction("reduce_mean", "mean of x over axes", averages: true) { sum, count in
        sum / Double(count)
    }

    static let reductionOps: [OpDefinition] = [reduceSum, reduceMean]
}

extension Check {
    /// A non-empty, strictly increasing list of non-negative axes (the canonical spelling, so equal
    /// reductions print and compare equal); the rank bound is checked by the shape rule.
    public static let canonicalAxes: @Sendable (AttributeValue) -> String? = { value in
        guard let axes = value.intsValue else { return "expected a list of ints" }
        if axes.isEmpty { return "expected at least one axis" }
        if let bad = axes.first(where: { $0 < 0 }) { return "axis \(bad) is negative" }
        for (a, b) in zip(axes, axes.dropFirst()) {
            if a == b { return "axis \(a) is listed twice" }
            if a > b { return "axes must be in increasing order, got \(axes)" }
        }
        return nil
    }
}

// Convenience methods for the reduction group.
extension GraphBuilder {
    /// Σ x over `axes`; negative axes count from the end, and any order is accepted (sorted for the IR).
    public func reduceSum(_ x: ValueID, axes: [Int], keepdims: Bool = false) throws -> ValueID {
        try apply(Ops.reduceSum, [x], reductionAttributes(x, axes, keepdims))
    }

    /// The mean of x over `axes`; negative axes count from the end, and any order is accepted.
    public func reduceMean(_ x: ValueID, axes: [Int], keepdims: Bool = false) throws -> ValueID {
        try apply(Ops.reduceMean, [x], reductionAttributes(x, axes, keepdims))
    }

    /// The mean of every element of x, a rank-0 scalar (x itself when it is already rank 0).
    public func meanAll(_ x: ValueID) throws -> ValueID {
        let rank = shape(of: x).count
        return rank == 0 ? x : try reduceMean(x, axes: Array(0..<rank))
    }

    /// Resolves negative axes and sorts them; duplicates and out-of-range axes are left for the op to reject.
    private func reductionAttributes(_ x: ValueID, _ axes: [Int], _ keepdims: Bool) -> Attributes {
        let rank = shape(of: x).count
        let canonical = axes.map { $0 < 0 && $0 + rank >= 0 ? $0 + rank : $0 }.sorted()
        return ["axes": .ints(canonical), "keepdims": .bool(keepdims)]
    }
}
