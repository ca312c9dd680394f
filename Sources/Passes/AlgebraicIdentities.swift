import GraphIR

/// The exact algebraic identities of `canonicalize` for one single-result node whose operands have already
/// been rewritten. Each rule states why it is exact in floating point; rules that are not (x·0 → 0, x − x → 0,
/// x/c → x·(1/c) for c not a power of two, merging two roundings into one) are deliberately absent.
struct AlgebraicIdentities {
    let r: GraphRewriter
    let node: RewriteCandidate
    var result: TensorType { node.resultTypes[0] }

    /// The replacement value, or nil when no identity applies.
    func simplified() throws -> ValueID? {
        let ops = node.operands
        switch node.op {
        case Ops.add:
            if r.splat(ops[1]) == 0 { return try same(ops[0]) }  // x + 0 = x (up to the sign of a zero x)
            if r.splat(ops[0]) == 0 { return try same(ops[1]) }
            if let c = r.splat(ops[1]) { return try unary(Ops.shift, ops[0], ["offset": .float(c)]) }
            if let c = r.splat(ops[0]) { return try unary(Ops.shift, ops[1], ["offset": .float(c)]) }
        case Ops.sub:
            if r.splat(ops[1]) == 0 { return try same(ops[0]) }
            if r.splat(ops[0]) == 0 { return try unary(Ops.neg, ops[1]) }  // 0 − x = −x
            if let c = r.splat(ops[1]) { return try unary(Ops.shift, ops[0], ["offset": .float(-c)]) }
        case Ops.mul:
            for (x, k) in [(ops[0], ops[1]), (ops[1], ops[0])] {
                guard let c = r.splat(k) else { continue }
                if c == 1 { return try same(x) }
                if c == -1 { return try unary(Ops.neg, x) }  // negation is exact
                if let scaled = try unary(Ops.scale, x, ["factor": .float(c)]) { return scaled }
            }
        case Ops.div:
            guard let c = r.splat(ops[1]) else { break }
            if c == 1 { return try same(ops[0]) }
            // x / 2ᵏ = x · 2⁻ᵏ exactly; for any other c the two round differently.
            if c.isNormal, c.significandBitPattern == 0, (1 / c).isNormal {
                return try unary(Ops.scale, ops[0], ["factor": .float(1 / c)])
            }
        case Ops.neg:
            if let inner = producer(ops[0], Ops.neg) { return inner.operands[0] }
            if let inner = producer(ops[0], Ops.scale) {  // −(x·f) = x·(−f): negation is exact
                return try r.emit(Ops.scale, inner.operands, ["factor": .float(-inner.attributes.float("factor"))])
            }
        case Ops.scale:
            let factor = node.attributes.float("factor")
            if factor == 1 { return ops[0] }
            if factor == -1 { return try r.emit(Ops.neg, ops) }
            if let inner = producer(ops[0], Ops.neg) {  // (−x)·f = x·(−f) (Adam's moment update of a zero gradient)
                return try r.emit(Ops.scale, inner.operands, ["factor": .float(-factor)], location: node.location)
            }
        case Ops.shift:
            if node.attributes.float("offset") == 0 { return ops[0] }
        case Ops.transpose:
            return try transpose(ops[0], node.attributes.ints("perm"))
        case Ops.reshape, Ops.broadcastTo:
            // Chains: only the last shape matters (reshape keeps row-major order; broadcasting is transitive).
            let source = producer(ops[0], node.op)?.operands[0] ?? ops[0]
            if r.type(of: source) == result { return source }
            if source != ops[0] { return try r.emit(node.op, [source], node.attributes) }
        case Ops.cast:
            if r.type(of: ops[0]) == result { return ops[0] }
            // Widening then narrowing back restores every value; the other way round loses precision.
            if let inner = producer(ops[0], Ops.cast), let original = inner.operands.first,
               r.type(of: original) == result, result.dtype.byteWidth < r.type(of: ops[0]).dtype.byteWidth {
                return original
            }
        case Ops.slice, Ops.concat, Ops.reduceSum, Ops.reduceMean:
            // A slice of everything, a concat of one operand, a sum or mean over size-1 axes kept as they
            // are: the operand itself. (stop_gradient is no such no-op: a later autodiff reads it.)
            if ops.count == 1, r.type(of: ops[0]) == result { return ops[0] }
        default:
            break
        }
        return nil
    }

    /// transpose(x, perm), composed with a transpose producing x, or x itself for the identity.
    private func transpose(_ x: ValueID, _ perm: [Int]) throws -> ValueID? {
        let inner = producer(x, Ops.transpose)
        // Result axis i is x's axis perm[i], which is the inner operand's axis innerPerm[perm[i]].
        let composed = inner.map { p in perm.map { p.attributes.ints("perm")[$0] } } ?? perm
        let source = inner?.operands[0] ?? x
        if composed == Array(composed.indices) { return source }
        return inner == nil ? nil : try r.emit(Ops.transpose, [source], ["perm": .ints(composed)])
    }

    /// x where it already has the result's type; broadcast to the result's shape where an identity operand
    /// only stretched it (x + zeros[4, 3] with x[3]).
    private func same(_ x: ValueID) throws -> ValueID? {
        let type = r.type(of: x)
        if type == result { return x }
        return type.dtype == result.dtype ? try r.emit(Ops.broadcastTo, [x], ["shape": .ints(result.shape)]) : nil
    }

    /// op(x) when that has the result's type (the constant operand did not broadcast x).
    private func unary(_ op: OpDefinition, _ x: ValueID, _ attributes: Attributes = [:]) throws -> ValueID? {
        r.type(of: x) == result ? try r.emit(op, [x], attributes, location: node.location) : nil
    }

    /// The node of `op` producing `value`, if that is what produces it.
    private func producer(_ value: ValueID, _ op: OpDefinition) -> Node? {
        guard let node = r.producer(of: value), node.op === op else { return nil }
        return node
    }
}
