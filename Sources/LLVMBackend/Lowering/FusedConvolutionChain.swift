import GraphIR

/// What a fused convolution node's region computes, read back from its nodes: nearest upsampling and a pad
/// folded into the input side of a convolution (`conv2d`, `conv2d_backward_weight`), or the same folded into
/// the output side of `conv2d_backward_input` (`pad_backward`, `upsample_nearest_backward`).
struct FusedConvolutionChain {
    enum Kind: String, CaseIterable { case conv2d, conv2d_backward_input, conv2d_backward_weight }

    let kind: Kind
    let geometry: GatheredConvolution
    let hasBias: Bool

    /// The fusion kinds this reads.
    static var kinds: Set<String> { Set(Kind.allCases.map(\.rawValue)) }

    init(kind name: String, region: Graph) throws(BackendError) {
        guard let kind = Kind(rawValue: name) else { throw BackendError("'\(name)' is not a fused convolution kind") }
        self.kind = kind
        let nodes = region.nodes.filter { !$0.op.traits.contains(.constant) }
        let names = nodes.map(\.op.name)
        func fail() -> BackendError {
            BackendError("a fused '\(name)' node must hold [upsample_nearest] [pad] and the convolution (reversed for "
                + "conv2d_backward_input), got \(names)")
        }
        // The spatial ops, in the order the forward applies them, and the convolution node.
        let conv: Node, spatial: [Node]
        switch kind {
        case .conv2d, .conv2d_backward_weight:
            guard let last = nodes.last, last.op.name == kind.rawValue else { throw fail() }
            (conv, spatial) = (last, Array(nodes.dropLast()))
        case .conv2d_backward_input:
            guard let first = nodes.first, first.op.name == kind.rawValue else { throw fail() }
            (conv, spatial) = (first, nodes.dropFirst().reversed())
        }
        let spatialNames = spatial.map(\.op.name).map { $0.replacingOccurrences(of: "_backward", with: "") }
        guard [[], ["pad"], ["upsample_nearest"], ["upsample_nearest", "pad"]].contains(spatialNames) else { throw fail() }
        let upsample = spatial.first { $0.op.name.hasPrefix("upsample_nearest") }
        let pad = spatial.first { $0.op.name.hasPrefix("pad") }

        // The source image and the convolution's output, weight and attributes.
        let source: [Int], output: [Int], outputChannels: Int, kernel: [Int]
        switch kind {
        case .conv2d:
            source = region.type(of: region.arguments[0].value).shape
            output = region.type(of: conv.results[0]).shape
            let weight = region.type(of: conv.operands[1]).shape
            (outputChannels, kernel) = (weight[0], [weight[2], weight[3]])
            hasBias = conv.operands.count == 3
        case .conv2d_backward_weight:
            source = region.type(of: region.arguments[0].value).shape
            output = region.type(of: conv.operands[1]).shape
            (outputChannels, kernel) = (output[1], conv.attributes.ints("kernel"))
            hasBias = false
        case .conv2d_backward_input:
            source = region.type(of: nodes.last!.results[0]).shape
            output = region.type(of: conv.operands[0]).shape
            let weight = region.type(of: conv.operands[1]).shape
            (outputChannels, kernel) = (weight[0], [weight[2], weight[3]])
            hasBias = false
        }
        let scale = upsample?.attributes.ints("scale") ?? [1, 1]
        let padding = pad?.attributes.ints("pad") ?? [0, 0, 0, 0]  // left, right, top, bottom
        let mode = pad.map { PadMode(rawValue: $0.attributes.string("mode"))! } ?? .zero
        let stride = conv.attributes.ints("stride"), convPad = conv.attributes.ints("pad")
        let rows = GatherAxis(source: source[2], scale: scale[0], padMode: mode, padBefore: padding[2], padAfter: padding[3],
                              convPadBefore: convPad[2], stride: stride[0], kernel: kernel[0], outputs: output[2])
        let cols = GatherAxis(source: source[3], scale: scale[1], padMode: mode, padBefore: padding[0], padAfter: padding[1],
                              convPadBefore: convPad[0], stride: stride[1], kernel: kernel[1], outputs: output[3])
        geometry = GatheredConvolution(n: source[0], c: source[1], o: outputChannels, rows: rows, cols: cols)
    }
}
