/// Attribute range checks shared by op definitions.
public enum Check {
    /// An int list of exactly `count` values, each at least `minimum`.
    public static func ints(count: Int, minimum: Int) -> @Sendable (AttributeValue) -> String? {
        { value in
            guard let v = value.intsValue else { return "expected a list of ints" }
            if v.count != count { return "expected \(count) values, got \(v.count)" }
            if let bad = v.first(where: { $0 < minimum }) { return "value \(bad) is below \(minimum)" }
            return nil
        }
    }

    /// An int of at least `minimum`.
    public static func int(minimum: Int) -> @Sendable (AttributeValue) -> String? {
        { value in
            guard let v = value.intValue else { return "expected an int" }
            return v < minimum ? "value \(v) is below \(minimum)" : nil
        }
    }

    /// A float strictly above `minimum`.
    public static func float(above minimum: Double) -> @Sendable (AttributeValue) -> String? {
        { value in
            guard let v = value.floatValue else { return "expected a float" }
            return v > minimum ? nil : "value \(v) must be greater than \(minimum)"
        }
    }

    /// A symbol from a fixed set.
    public static func oneOf(_ allowed: [String]) -> @Sendable (AttributeValue) -> String? {
        { value in
            guard let v = value.stringValue else { return "expected one of \(allowed.joined(separator: ", "))" }
            return allowed.contains(v) ? nil : "'\(v)' is not one of \(allowed.joined(separator: ", "))"
        }
    }
}

/// Shape-rule building blocks.
public enum ShapeRules {
    /// All operands share one dtype; returns it.
    public static func commonDType(_ types: [TensorType], op: String) throws(OpError) -> DType {
        guard let first = types.first else { throw OpError("'\(op)' has no operands") }
        for t in types where t.dtype != first.dtype {
            throw OpError("'\(op)' mixes \(first.dtype.rawValue) and \(t.dtype.rawValue) operands")
        }
        return first.dtype
    }

    /// NumPy broadcasting of two shapes (trailing dimensions aligned; size 1 stretches).
    public static func broadcast(_ a: [Int], _ b: [Int], op: String) throws(OpError) -> [Int] {
        let rank = Swift.max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da != db && da != 1 && db != 1 {
                throw OpError("'\(op)' cannot broadcast \(a) with \(b)")
            }
            result[i] = Swift.max(da, db)
        }
        return result
    }

    /// Requires `type` to have `rank` dimensions.
    public static func requireRank(_ type: TensorType, _ rank: Int, _ what: String, op: String) throws(OpError) {
        if type.rank != rank {
            throw OpError("'\(op)' needs \(what) of rank \(rank), got \(type)")
        }
    }

    /// Requires `type`'s shape to equal `shape`.
    public static func requireShape(_ type: TensorType, _ shape: [Int], _ what: String, op: String) throws(OpError) {
        if type.shape != shape {
            throw OpError("'\(op)' needs \(what) of shape \(shape), got \(type)")
        }
    }

    /// `terms` added, or an error naming `what` when the sum overflows: shape rules add attribute values
    /// (pads, sizes) that a file may set anywhere up to 2⁶³ − 1, so their arithmetic must never trap.
    public static func sum(_ terms: Int..., op: String, _ what: String) throws(OpError) -> Int {
        var total = 0
        for term in terms {
            let (next, overflow) = total.addingReportingOverflow(term)
            if overflow { throw overflowError(terms, "+", op: op, what) }
            total = next
        }
        return total
    }

    /// `factors` multiplied, or an error naming `what` when the product overflows (see `sum`).
    public static func product(_ factors: Int..., op: String, _ what: String) throws(OpError) -> Int {
        var total = 1
        for factor in factors {
            let (next, overflow) = total.multipliedReportingOverflow(by: factor)
            if overflow { throw overflowError(factors, "·", op: op, what) }
            total = next
        }
        return total
    }

    private static func overflowError(_ values: [Int], _ operation: String, op: String, _ what: String) -> OpError {
        OpError("'\(op)' \(what) \(values.map(String.init).joined(separator: " \(operation) ")) overflows a 64-bit integer")
    }

    /// Validates a computed result shape (positive dimensions, bounded size).
    public static func validated(_ dtype: DType, _ shape: [Int], op: String) throws(OpError) -> TensorType {
        if let problem = TensorType.validate(shape: shape) { throw OpError("'\(op)' result: \(problem)") }
        return TensorType(dtype, shape)
    }
}

extension Tensor {
    /// This tensor's scalars broadcast (NumPy rules) to `target`.
    public func broadcastScalars(to target: [Int]) -> [Double] {
        if shape == target { return scalars }
        let strides = Strides.broadcast(shape, to: target)
        let count = target.reduce(1, *)
        var result = [Double](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: target.count)
        var source = 0
        for i in 0..<count {
            result[i] = scalars[source]
            // Odometer increment over the target index, keeping the source offset in step.
            var axis = target.count - 1
            while axis >= 0 {
                index[axis] += 1
                source += strides[axis]
                if index[axis] < target[axis] { break }
                source -= strides[axis] * target[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}
