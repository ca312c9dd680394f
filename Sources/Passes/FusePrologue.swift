import GraphIR

/// Folds a pointwise producer into the reduction or norm gradient that alone reads it: a loss's
/// `reduce_mean(abs(sub(x, y)))` computes |x − y| inside the mean's loop, a norm's backward takes
/// `activation′ ⊙ upstream` (the ReLU mask times the incoming gradient) element by element as it sums.
/// The result is a fused node of kind `prologue` whose region holds the producer (a plain pointwise op or
/// a `fuse-elementwise` node) and the consumer; the intermediate tensor is never written.
///
/// Matched (`PrologueFusion`): the operand an op streams (a reduction's input, a norm gradient's upstream
/// gradient; ops with the `streamsOperand` trait), produced by a single-result pointwise node that nothing
/// else reads, whose operands have its shape or one element.
/// Runs after `fuse-elementwise`, so a whole pointwise chain folds at once.
public struct FusePrologue: Pass {
    public static let name = "fuse-prologue"
    public let summary = "fold pointwise producers into the reductions and norm gradients that alone read them"

    public init() {}

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        var uses = [Int](repeating: 0, count: graph.values.count)
        for node in graph.nodes { node.operands.forEach { uses[$0.index] += 1 } }
        graph.outputs.forEach { uses[$0.value.index] += 2 }
        var fusions: [Int: Fusion] = [:], absorbed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard let k = PrologueFusion.foldedOperand(of: node.op), k < node.operands.count else { continue }
            let v = node.operands[k]
            guard uses[v.index] == 1, case .node(let p, _) = graph.values[v.index].definition, !absorbed.contains(p),
                  PrologueFusion.isPointwiseProducer(graph.nodes[p], in: graph) else { continue }
            fusions[i] = Fusion(kind: .prologue, members: [p, i], exporting: [node.results[0]])
            absorbed.insert(p)
            statistics[node.op.traits.contains(.backward) ? "norm-gradients" : "reductions"] += 1
        }
        return fusions.isEmpty ? graph : graph.fusing(fusions, absorbing: absorbed)
    }
}
