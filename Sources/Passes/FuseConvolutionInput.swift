import GraphIR

/// Folds nearest upsampling and the padding after it into the convolutions that read them, and the same
/// chain reversed into the gradient: fused nodes of kind `conv2d`, `conv2d_backward_weight` and
/// `conv2d_backward_input` whose regions hold the chain, so `--print-ir-after fuse-conv-input` shows each
/// decision and the interpreter runs it unchanged.
///
/// Matched (intermediates of the backward chain used once, the forward's may have other users — they stay
/// until dce finds them dead):
///   conv2d(pad(upsample_nearest(x)), w[, b])        conv2d(upsample_nearest(x), w[, b])
///   conv2d_backward_weight(pad(upsample_nearest(x)), gy)
///   upsample_nearest_backward(pad_backward(conv2d_backward_input(gy, w)))
///
/// Why only chains with an upsampling: the backend computes a folded upsampling on the small image, per
/// output phase with merged taps (×2 then 5×5: 9 taps per output instead of 25), a large saving; a pad
/// alone it would fold into an im2col, which large unpadded-stride-1 convolutions avoid altogether.
public struct FuseConvolutionInput: Pass {
    public let name = "fuse-conv-input"
    public let summary = "fold nearest upsampling (and the pad after it) into convolutions and their gradients"

    public init() {}

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        var uses = [Int](repeating: 0, count: graph.values.count)
        for node in graph.nodes { node.operands.forEach { uses[$0.index] += 1 } }
        graph.outputs.forEach { uses[$0.value.index] += 2 }  // an output is never an intermediate
        func producer(_ v: ValueID, _ op: String, singleUse: Bool = false) -> Int? {
            guard case .node(let p, _) = graph.values[v.index].definition, graph.nodes[p].op.name == op,
                  !singleUse || uses[v.index] == 1 else { return nil }
            return p
        }

        // Fused node kind and members (in graph order), by the node it replaces.
        var fusions: [Int: Fusion] = [:]
        var absorbed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            switch node.op.name {
            case "conv2d", "conv2d_backward_weight":
                var chain = [i], v = node.operands[0]
                if let pad = producer(v, "pad") { chain.insert(pad, at: 0); v = graph.nodes[pad].operands[0] }
                guard let up = producer(v, "upsample_nearest") else { continue }
                chain.insert(up, at: 0)
                fusions[i] = Fusion(kind: node.op.name, members: chain, exporting: [node.results[0]])
                statistics[node.op.name == "conv2d" ? "convolutions" : "weight-gradients"] += 1
            case "upsample_nearest_backward":
                var chain = [i], v = node.operands[0]
                if let pad = producer(v, "pad_backward", singleUse: true) { chain.insert(pad, at: 0); v = graph.nodes[pad].operands[0] }
                guard let conv = producer(v, "conv2d_backward_input", singleUse: true) else { continue }
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
