import GraphIR

/// Folds what follows a convolution into its kernel: its normalisation (instance norm, AdaIN or MUNIT's
/// layer norm), activation and residual add become a fused node of kind `conv2d_epilogue` whose region
/// holds the convolution (itself possibly a `fuse-conv-input` node) and those ops. The backend writes the
/// convolution's output while accumulating each plane's Σx and Σx² (where BLAS writes it, one statistics
/// pass over the cache-hot group follows), then one pass per normalisation group (an (n, c) plane, or a
/// sample for the layer norm) writes the normalised, scaled and shifted, activated, residual-added result:
/// no separate statistics, normalisation and activation passes over memory.
///
/// Matched (`ConvolutionEpilogueFusion`): conv → [norm] → [activation] → [add with a same-shape tensor], at
/// least one of them. Every
/// intermediate another node still reads (the training step's backward reads the convolution's output and
/// the norm's) stays a result of the fused node. The fused node takes the convolution's place, so an op
/// joins only if its other operands (AdaIN's weights from the MLP, the residual) exist before it.
public struct FuseConvolutionEpilogue: Pass {
    public static let name = "fuse-conv-epilogue"
    public let summary = "fold a convolution's norm, activation and residual add into its kernel"

    public init() {}

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        var users = [[Int]](repeating: [], count: graph.values.count)
        for (i, node) in graph.nodes.enumerated() { node.operands.forEach { users[$0.index].append(i) } }
        let usedByOutputs = Set(graph.outputs.map(\.value))
        func definedBefore(_ v: ValueID, _ position: Int) -> Bool {
            if case .node(let p, _) = graph.values[v.index].definition { return p < position }
            return true
        }

        var fusions: [Int: Fusion] = [:], absorbed = Set<Int>()
        for (p, node) in graph.nodes.enumerated() {
            guard ConvolutionEpilogueFusion.isConvolution(node) else { continue }
            let shape = graph.type(of: node.results[0]).shape
            var members = [p], last = node.results[0]
            // The first reader of `last` that `accepts` and whose other operands exist before the convolution.
            func follow(_ accepts: (Node) -> Bool) -> Bool {
                guard let u = users[last.index].first(where: { u in
                    let candidate = graph.nodes[u]
                    return !absorbed.contains(u) && accepts(candidate) && candidate.operands.first == last
                        && candidate.operands.dropFirst().allSatisfy { definedBefore($0, p) }
                }) else { return false }
                members.append(u)
                last = graph.nodes[u].results[0]
                return true
            }
            var folded: [String] = []
            for step in ConvolutionEpilogueFusion.Step.allCases
            where follow({ ConvolutionEpilogueFusion.accepts(step, $0, in: graph, convolutionShape: shape) }) {
                folded.append(Self.statistic(step))
            }
            guard members.count > 1 else { continue }
            // Values read outside the group stay results of the fused node.
            let inside = Set(members)
            var exporting = Set<ValueID>()
            for m in members {
                for r in graph.nodes[m].results where usedByOutputs.contains(r) || users[r.index].contains(where: { !inside.contains($0) }) {
                    exporting.insert(r)
                }
            }
            fusions[p] = Fusion(kind: .convolutionEpilogue, members: members, exporting: exporting)
            absorbed.formUnion(members.dropFirst())
            statistics["convolutions"] += 1
            folded.forEach { statistics[$0] += 1 }
        }
        return fusions.isEmpty ? graph : graph.fusing(fusions, absorbing: absorbed)
    }

    /// The statistics counter of the fused nodes that fold `step`.
    static func statistic(_ step: ConvolutionEpilogueFusion.Step) -> String {
        switch step {
        case .norm: return "norms"
        case .activation: return "activations"
        case .residualAdd: return "residual-adds"
        }
    }
}
