import GraphIR

/// The geometry of a gathered convolution chain (`GatheredConvolutionFusion`): nearest upsampling and a pad
/// folded into the input side of a convolution or weight gradient, or into the output side of a data
/// gradient, as the per-axis index tables the gathered kernels read through.
struct FusedConvolutionChain {
    let role: GatheredConvolutionFusion.Role
    let geometry: GatheredConvolution
    let hasBias: Bool

    init(_ chain: GatheredConvolutionFusion) {
        role = chain.role
        let conv = chain.convolution, region = chain.region
        let source = chain.source.shape
        // The convolution's output side, output channels and kernel.
        let output: [Int], outputChannels: Int, kernel: [Int]
        switch chain.role {
        case .convolution:
            output = region.type(of: conv.results[0]).shape
            let weight = region.type(of: conv.operands[1]).shape
            (outputChannels, kernel) = (weight[0], [weight[2], weight[3]])
            hasBias = conv.operands.count == 3
        case .weightGradient:
            output = region.type(of: conv.operands[1]).shape
            (outputChannels, kernel) = (output[1], conv.attributes.ints("kernel"))
            hasBias = false
        case .dataGradient:
            output = region.type(of: conv.operands[0]).shape
            let weight = region.type(of: conv.operands[1]).shape
            (outputChannels, kernel) = (weight[0], [weight[2], weight[3]])
            hasBias = false
        }
        let scale = chain.upsample?.attributes.ints("scale") ?? [1, 1]
        let padding = chain.pad?.attributes.ints("pad") ?? [0, 0, 0, 0]  // left, right, top, bottom
        let mode = chain.pad.map { PadMode(rawValue: $0.attributes.string("mode"))! } ?? .zero
        let stride = conv.attributes.ints("stride"), convPad = conv.attributes.ints("pad")
        let rows = GatherAxis(source: source[2], scale: scale[0], padMode: mode, padBefore: padding[2], padAfter: padding[3],
                              convPadBefore: convPad[2], stride: stride[0], kernel: kernel[0], outputs: output[2])
        let cols = GatherAxis(source: source[3], scale: scale[1], padMode: mode, padBefore: padding[0], padAfter: padding[1],
                              convPadBefore: convPad[0], stride: stride[1], kernel: kernel[1], outputs: output[3])
        geometry = GatheredConvolution(n: source[0], c: source[1], o: outputChannels, rows: rows, cols: cols)
    }
}
