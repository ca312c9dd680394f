import GraphIR

/// Pairs a convolution's data gradient with its weight gradient: both read the output gradient gy, so they
/// become one fused node of kind `conv2d_backward` whose region holds the two (each plain or a
/// `fuse-conv-input` chain) and whose results are gx then gw. The backend then rearranges gy once for both
/// products (Winograd's tile transform, the gather per output class, or the shifted GEMMs' wide grid), runs
/// both products in one BLAS phase while gy is in cache, and lets the data gradient's columns reuse the
/// buffer the weight gradient's columns of x (or Winograd's transformed input) were written to.
///
/// Matched (`ConvolutionBackwardFusion.pairs`): a data gradient (`conv2d_backward_input`, plain or gathered)
/// and a weight gradient (`conv2d_backward_weight`, plain or gathered) reading the same gy, whose results
/// have the types of the data gradient's weight and the weight gradient's input. The fused node takes the earlier one's place, so the
/// later one's operands (the weight, the forward input) must exist before it.
public struct FuseConvolutionBackward: Pass {
    public static let name = "fuse-conv-backward"
    public let summary = "pair a convolution's data and weight gradients into one kernel sharing its passes over gy"

    public init() {}

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        var readers = [[Int]](repeating: [], count: graph.values.count)
        for (i, node) in graph.nodes.enumerated() { node.operands.forEach { readers[$0.index].append(i) } }
        func definedBefore(_ v: ValueID, _ position: Int) -> Bool {
            if case .node(let p, _) = graph.values[v.index].definition { return p < position }
            return true
        }

        var fusions: [Int: Fusion] = [:], taken = Set<Int>()
        for (d, data) in graph.nodes.enumerated() where ConvolutionBackwardFusion.isDataGradient(data) {
            let gy = data.operands[0]
            let partner = readers[gy.index].first { w in
                guard !taken.contains(w), ConvolutionBackwardFusion.pairs(data, graph.nodes[w], in: graph) else { return false }
                let (first, later) = (min(d, w), graph.nodes[max(d, w)])
                return later.operands.allSatisfy { definedBefore($0, first) }
            }
            guard let w = partner else { continue }
            // Members data first, so the region's arguments are gy, w, x and its results gx, gw.
            fusions[min(d, w)] = Fusion(kind: .convolutionBackward, members: [d, w],
                                        exporting: [data.results[0], graph.nodes[w].results[0]])
            taken.formUnion([d, w])
            statistics["pairs"] += 1
            if data.region != nil || graph.nodes[w].region != nil { statistics["gathered-pairs"] += 1 }
        }
        return fusions.isEmpty ? graph : graph.fusing(fusions, absorbing: Set(fusions.values.map { max($0.members[0], $0.members[1]) }))
    }
}
