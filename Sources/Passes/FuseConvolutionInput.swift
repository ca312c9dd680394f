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
/// taps (×2 then 5×5: 9 taps per output instead of 25). A pad alone folds where the backend reads the image
/// through it at no cost, so the padded image and its gradient's crop disappear: where it would copy the
/// image into columns anyway (strided convolutions, or output rows × padded width under 1024, with more
/// than 4 output channels), and into 3×3 stride-1 convolutions with enough channels each side for Winograd
/// (`GatheredConvolutionFusion.readsThroughTables`), whose transforms read through source tables (a plane
/// too large for the column rule has at least 128 tiles, above the backend's Winograd minimum of 64).
/// Other large stride-1 planes keep the materialised pad, which the backend's shifted GEMMs read in place
/// without any column copy.
public struct FuseConvolutionInput: Pass {
    public static let name = "fuse-conv-input"
    public let summary = "fold nearest upsampling (and the pad after it) into convolutions and their gradients"

    public init() {}

    /// Whether a convolution reads a lone pad cheaply enough to fold it (see above); `padded` is the padded
    /// input's shape [N, C, H, W].
    static func foldsPadAlone(kernel: [Int], stride: [Int], padded: [Int], outputChannels: Int, outputRows: Int) -> Bool {
        GatheredConvolutionFusion.readsThroughTables(kernel: kernel, stride: stride, inputChannels: padded[1], outputChannels: outputChannels)
            || outputChannels > 4 && (stride != [1, 1] || outputRows * padded[3] < 1024)
    }

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        var uses = [Int](repeating: 0, count: graph.values.count)
        var readers = [[Int]](repeating: [], count: graph.values.count)
        for (i, node) in graph.nodes.enumerated() {
            node.operands.forEach { uses[$0.index] += 1; readers[$0.index].append(i) }
        }
        graph.outputs.forEach { uses[$0.value.index] += 2 }  // an output is never an intermediate
        func producer(_ v: ValueID, _ op: OpDefinition, singleUse: Bool = false) -> Int? {
            guard case .node(let p, _) = graph.values[v.index].definition, graph.nodes[p].op === op,
                  !singleUse || uses[v.index] == 1 else { return nil }
            return p
        }

        // `foldsPadAlone` for a convolution or gradient node whose output (or output gradient) is `gy` and
        // whose padded input has shape `padded`; the weight gradient alone has no weight to take the kernel from.
        func foldsPadAlone(_ node: Node, gy: ValueID, padded: [Int]) -> Bool {
            let shape = graph.type(of: gy).shape
            let kernel = node.op === Ops.conv2dBackwardWeight
                ? node.attributes.ints("kernel") : Array(graph.type(of: node.operands[1]).shape[2...])
            return Self.foldsPadAlone(kernel: kernel, stride: node.attributes.ints("stride"), padded: padded,
                                      outputChannels: shape[1], outputRows: shape[2])
        }

        // Fused node kind and members (in graph order), by the node it replaces.
        var fusions: [Int: Fusion] = [:]
        var absorbed = Set<Int>()
        typealias Role = GatheredConvolutionFusion.Role
        let (upsample, pad) = Role.convolution.spatialOps, (upsampleGradient, padGradient) = Role.dataGradient.spatialOps
        for (i, node) in graph.nodes.enumerated() {
            switch Role(wrapping: node.op) {
            case let role? where role != .dataGradient:
                // Convolution or weight gradient: the chain ends in it, read from its input.
                var chain = [i], v = node.operands[0]
                if let p = producer(v, pad) { chain.insert(p, at: 0); v = graph.nodes[p].operands[0] }
                if let up = producer(v, upsample) {
                    chain.insert(up, at: 0)
                } else {
                    let gy = role == .convolution ? node.results[0] : node.operands[1]
                    guard chain.count == 2, foldsPadAlone(node, gy: gy, padded: graph.type(of: node.operands[0]).shape) else { continue }
                }
                fusions[i] = Fusion(kind: role.kind, members: chain, exporting: [node.results[0]])
                statistics[role == .convolution ? "convolutions" : "weight-gradients"] += 1
            case nil where node.op === upsampleGradient || node.op === padGradient:
                // The data gradient's chain ends in the last gradient of a spatial op, read from the convolution's.
                var chain = [i], v = node.operands[0]
                if node.op === upsampleGradient, let p = producer(v, padGradient, singleUse: true) {
                    chain.insert(p, at: 0)
                    v = graph.nodes[p].operands[0]
                }
                guard let conv = producer(v, Role.dataGradient.op, singleUse: true) else { continue }
                if node.op === padGradient {
                    // A pad_backward that an upsampling's gradient reads is folded from there.
                    if uses[node.results[0].index] == 1, let reader = readers[node.results[0].index].first,
                       graph.nodes[reader].op === upsampleGradient { continue }
                    let gy = graph.nodes[conv].operands[0]
                    guard foldsPadAlone(graph.nodes[conv], gy: gy, padded: graph.nodes[conv].attributes.ints("input_shape")) else { continue }
                }
                chain.insert(conv, at: 0)
                fusions[i] = Fusion(kind: Role.dataGradient.kind, members: chain, exporting: [node.results[0]])
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
