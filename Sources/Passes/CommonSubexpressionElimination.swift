import GraphIR

/// Reuses the first of several nodes that apply the same op to the same operands with the same attributes
/// (operands in either order for ops with the `commutative` trait), and removes the copies. Every op of the
/// table is a pure function of its operands and attributes (no randomness, no state), so none is exempt;
/// equal `constant` nodes merge too. Autodiff makes many such copies: the same transposed weight or
/// recomputed x̂ for several gradients, the ones and zeros each norm's VJP creates.
public struct CommonSubexpressionElimination: Pass {
    public static let name = "cse"
    public let summary = "merge nodes that compute the same op on the same operands with the same attributes"

    public init() {}

    /// What makes two nodes interchangeable. Result types are part of it because the shape rule does not
    /// always determine them from the operands alone (`constant`'s come from attributes, which are compared
    /// anyway; the key stays correct if an op ever has more freedom).
    struct Key: Hashable {
        var op: OpDefinition
        var operands: [ValueID]
        var attributes: Attributes
        var resultTypes: [TensorType]
        /// Fused nodes are equal only with equal regions.
        var region: Graph?
    }

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        var seen: [Key: [ValueID]] = [:]
        var merged = 0
        let result = try GraphRewriter.rewrite(graph, pass: name) { r, node in
            var operands = node.operands
            if node.op.traits.contains(.commutative) { operands.sort() }
            let key = Key(op: node.op, operands: operands, attributes: node.attributes, resultTypes: node.resultTypes,
                          region: node.region)
            if let existing = seen[key] {
                merged += 1
                return existing
            }
            // Operands are already mapped to their first occurrences, so chains of copies merge in one walk.
            let results = r.copy(node)
            seen[key] = results
            return results
        }
        statistics["nodes-merged"] = merged
        statistics["nodes-removed"] = graph.nodes.count - result.nodes.count
        return result
    }
}
