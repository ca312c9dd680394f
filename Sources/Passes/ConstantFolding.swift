import GraphIR

/// Replaces nodes whose operands are all constants by a `constant` node holding their result.
///
/// A `constant` is a splat (one value and a shape), so a node folds only when its result is a splat: always
/// for elementwise ops and layout ops of splats, and for other ops (reductions, norms, convolutions …) when
/// evaluating them on small operands gives equal elements. Values are computed by the op table's own
/// kernels and rounded to the result's dtype, so the folded graph computes exactly what the interpreter
/// computed before. Results that are not finite are left alone: a `constant` cannot hold them.
public struct ConstantFolding: Pass {
    public static let name = "constant-fold"
    public let summary = "replace nodes of constant operands by constant nodes (splat results only)"

    /// Ops other than elementwise and layout ones are evaluated only when operands and result together have
    /// at most this many elements, so folding never allocates a large tensor to look at one value.
    public static let maxEvaluatedElements = 1 << 16

    public init() {}

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        var folded = 0
        let result = try GraphRewriter.rewrite(graph, pass: name) { r, node in
            guard let constant = try ConstantFolding.fold(node, r) else { return nil }
            folded += 1
            return [constant]
        }
        statistics["nodes-folded"] = folded
        statistics["nodes-removed"] = graph.nodes.count - result.nodes.count
        return result
    }

    /// The constant replacing `node` when all of its operands are constants and its result is a splat.
    static func fold(_ node: RewriteCandidate, _ r: GraphRewriter) throws -> ValueID? {
        guard node.resultTypes.count == 1, node.op.traits.isDisjoint(with: [.constant, .fused]) else { return nil }
        let values = node.operands.compactMap(r.splat)
        if node.op.traits.contains(.collective) {
            // A constant is the same on every rank: its sum over the ranks is ranks × it, its mean itself.
            guard values.count == 1, node.op === Ops.allReduce else { return nil }
            let ranks = node.attributes.string("operation") == ReduceOperation.sum.rawValue
                ? Double(node.attributes.int("ranks")) : 1
            let value = node.resultTypes[0].dtype.round(values[0] * ranks)
            return value.isFinite ? try r.constant(value, node.resultTypes[0], location: node.location) : nil
        }
        guard values.count == node.operands.count,
              let value = splatResult(node, operands: zip(values, node.operands.map(r.type(of:))).map { ($0, $1) }),
              value.isFinite
        else { return nil }
        return try r.constant(value, node.resultTypes[0], location: node.location)
    }

    /// The single value of `node`'s result for splat operands, or nil when it is not a splat (or too large
    /// to evaluate).
    static func splatResult(_ node: RewriteCandidate, operands: [(value: Double, type: TensorType)]) -> Double? {
        let result = node.resultTypes[0]
        if node.op.traits.contains(.layout), let first = operands.first,
           operands.allSatisfy({ $0.value == first.value && $0.type.dtype == result.dtype }) {
            // Moving equal elements around leaves them equal.
            return first.value
        }
        // Elementwise results at every index are computed alike from the same values, so one element of
        // all-ones shapes (keeping ranks, which ops such as prelu read) stands for all of them.
        let collapse = node.op.traits.contains(.elementwise)
        func shape(_ type: TensorType) -> [Int] { collapse ? type.shape.map { _ in 1 } : type.shape }
        let elements = (operands.map(\.type) + [result]).reduce(0) { $0 + shape($1).reduce(1, *) }
        guard elements <= maxEvaluatedElements else { return nil }
        let inputs = operands.map { Tensor(TensorType($0.type.dtype, shape($0.type)), repeating: $0.value) }
        let outputType = TensorType(result.dtype, shape(result))
        let outputs = node.op.kernel(inputs, node.attributes, [outputType])
        // The interpreter rounds every result to its dtype; so must the folded value.
        let scalars = outputs[0].scalars.map(result.dtype.round)
        guard let first = scalars.first, scalars.allSatisfy({ $0 == first }) else { return nil }
        return first
    }
}
