import GraphIR

/// Folds nearest upsampling and padding into the convolutions that read them, and the same chain reversed
/// into the gradient: fused nodes of kind `conv2d`, `conv2d_backward_weight` and `conv2d_backward_input`
/// whose regions hold the chain, so `--print-ir-after fuse-conv-input` shows each decision and the
/// interpreter runs it unchanged.
///
/// Matched (intermediates of the backward chain used once, the forward's may have other users — they stay
/// until dce finds them dead):
///   conv2d([pad](upsample_nearest(x)), w[, b])       conv2d_backward_weight([pad](upsample_nearest(x)), gy)
///   upsample_nearest_backward([pad_backward](conv2d_backward_input(gy, w)))
///   and the same without the upsampling: conv2d(pad(x), …), pad_backward(conv2d_backward_input(…)), …
///
/// An upsampling always folds: the backend computes it on the small image, per output phase with merged
/// taps (×2 then 5×5: 9 taps per output instead of 25). A pad alone folds where the backend would copy the
/// image into columns anyway (strided convolutions, or output rows × padded width under 1024, with more
/// than 4 output channels): there reading through the padding costs nothing and the padded image and its
/// gradient's crop disappear. Large stride-1 planes keep the materialised pad, which the backend's shifted
/// GEMMs read in place without any column copy.
public struct FuseConvolutionInput: Pass {
    public let name = "fuse-conv-input"
    public let summary = "fold nearest upsampling (and the pad after it) into convolutions and their gradients"

    public init() {}

    /// Whether a convolution reads a lone pad cheaply enough to fold it (see above).
    static func foldsPadAlone(stride: [Int], outputChannels: Int, outputRows: Int, paddedWidth: Int) -> Bool {
        outputChannels > 4 && (stride != [1, 1] || outputRows * paddedWidth < 1024)
    }

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        var uses = [Int](repeating: 0, count: graph.values.count)
        var readers = [[Int]](repeating: [], count: graph.values.count)
        for (i, node) in graph.nodes.enumerated() {
            node.operands.forEach { uses[$0.index] += 1; readers[$0.index].append(i) }
        }
        graph.outputs.forEach { uses[$0.value.index] += 2 }  // an output is never an intermediate
        func producer(_ v: ValueID, _ op: String, singleUse: Bool = false) -> Int? {
            guard case .node(let p, _) = graph.values[v.index].definition, graph.nodes[p].op.name == op,
                  !singleUse || uses[v.index] == 1 else { return nil }
            return p
        }

        // `foldsPadAlone` for a convolution or gradient node whose output (or output gradient) is `gy`.
        func foldsPadAlone(_ node: Node, gy: ValueID, paddedWidth: Int) -> Bool {
            let shape = graph.type(of: gy).shape
            return Self.foldsPadAlone(stride: node.attributes.ints("stride"), outputChannels: shape[1], outputRows: shape[2],
                                      paddedWidth: paddedWidth)
        }

        // Fused node kind and members (in graph order), by the node it replaces.
        var fusions: [Int: Fusion] = [:]
        var absorbed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            switch node.op.name {
            case "conv2d", "conv2d_backward_weight":
                var chain = [i], v = node.operands[0]
                if let pad = producer(v, "pad") { chain.insert(pad, at: 0); v = graph.nodes[pad].operands[0] }
                if let up = producer(v, "upsample_nearest") {
                    chain.insert(up, at: 0)
                } else {
                    let gy = node.op.name == "conv2d" ? node.results[0] : node.operands[1]
                    guard chain.count == 2, foldsPadAlone(node, gy: gy, paddedWidth: graph.type(of: node.operands[0]).shape[3]) else { continue }
                }
                fusions[i] = Fusion(kind: node.op.name, members: chain, exporting: [node.results[0]])
                statistics[node.op.name == "conv2d" ? "convolutions" : "weight-gradients"] += 1
            case "upsample_nearest_backward", "pad_backward":
                var chain = [i], v = node.operands[0]
                if node.op.name == "upsample_nearest_backward", let pad = producer(v, "pad_backward", singleUse: true) {
                    chain.insert(pad, at: 0)
                    v = graph.nodes[pad].operands[0]
                }
                guard let conv = producer(v, "conv2d_backward_input", singleUse: true) else { continue }
                if node.op.name == "pad_backward" {
                    // A pad_backward that an upsampling's gradient reads is folded from there.
                    if uses[node.results[0].index] == 1, let reader = readers[node.results[0].index].first,
                       graph.nodes[reader].op.name == "upsample_nearest_backward" { continue }
                    let gy = graph.nodes[conv].operands[0]
                    guard foldsPadAlone(graph.nodes[conv], gy: gy, paddedWidth: graph.nodes[conv].attributes.ints("input_shape")[3]) else { continue }
                }
                chain.insert(conv, at: 0)
                fusions[i] = Fusion(kind: "conv2d_backward_input", members: chain, exporting: [node.results[0]])
                absorbed.formUnion(chain.dropLast())
                statistics["input-gradients"] += 1
            default:
                continue
            }
        }
        if fusions.isEmpty { return graph }

        return graph.fusing(fusions, absorbing: absorbed)
    }
}
