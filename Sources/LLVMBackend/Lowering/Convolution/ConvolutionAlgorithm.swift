import GraphIR

/// Every choice of how a convolution runs, in one place: the algorithm of a plain convolution or gradient
/// (with the sizes where each pays), a gathered chain's, and a `conv2d_backward` pair's shared path. The
/// algorithms themselves live in the files beside this one.
enum ConvolutionAlgorithm: Equatable {
    case direct, winograd(WinogradConvolution), wideGrid, im2col

    /// The forward convolution's and its data gradient's algorithm.
    static func forward(_ g: ConvGeometry) -> ConvolutionAlgorithm {
        if g.o <= DirectConvolution.maximumChannels { return .direct }
        if let winograd = WinogradConvolution(g) { return .winograd(winograd) }
        return WideGridConvolution.applies(g) ? .wideGrid : .im2col
    }

    /// The weight gradient's: few output channels take direct loops where every tap reads every column
    /// (one pass per kernel row feeds all its sums), else the wide grid's GEMMs when it applies (measured:
    /// 64→3, 7×7 on 64×64: 1.5 ms against 3.7 ms for per-tap direct dot products).
    static func weight(_ g: ConvGeometry) -> ConvolutionAlgorithm {
        if g.o <= DirectConvolution.maximumChannels && DirectConvolution.tapsFitEveryColumn(g) { return .direct }
        if let winograd = WinogradConvolution(g) { return .winograd(winograd) }
        if WideGridConvolution.applies(g) { return .wideGrid }
        return g.o <= DirectConvolution.maximumChannels ? .direct : .im2col
    }

    /// A gathered chain's Winograd, where it applies (a folded pad alone under a 3×3 stride-1 convolution:
    /// Winograd reads through it just as well); nil for the gathered columns.
    static func winograd(_ g: GatheredConvolution) -> WinogradConvolution? { WinogradConvolution(g) }
}

/// The three products a convolution's passes multiply, whatever computes them (BLAS, Winograd's generated
/// products, the gathered convolutions' skinny products): the forward product, the data gradient's (the
/// weights transposed) and the weight gradient's (a contraction over the positions).
enum ConvolutionProduct { case forward, data, weight }

extension DirectConvolution {
    /// Output channels up to which a convolution runs as direct loops (a GEMM with M or K this small is
    /// too skinny for BLAS).
    static let maximumChannels = 4
}

extension WinogradConvolution {
    /// Channels below which the 16 products are too small to beat one im2col GEMM; shared with
    /// `fuse-conv-input`, which folds lone pads into the convolutions that run as Winograd.
    static let minimumChannels = GatheredConvolutionFusion.winogradMinimumChannels
}

extension WideGridConvolution {
    /// Unpadded, stride 1, not 1×1, and a wide grid of at least `minimumColumns`: below that, nine skinny GEMMs
    /// lose to one im2col GEMM (measured: 16×16 images at 256 channels lose, 32×32 win). Each tap's product
    /// multiplies over the input channels, so an image's few channels (RGB into a 7×7) make every product
    /// degenerate; one im2col GEMM over C·kh·kw = 147 rows runs near BLAS's peak instead.
    static func applies(_ g: ConvGeometry) -> Bool {
        g.stride == [1, 1] && g.pad.allSatisfy { $0 == 0 } && !g.isPointwise && wide(g) >= minimumColumns && g.c >= minimumChannels
    }
    static let minimumColumns = 1024
    /// Input channels below which each tap's product is too thin (see `applies`).
    static let minimumChannels = 16
}

extension ConvolutionBackward {
    /// Both gradients share gy's rearrangement where they would take the same algorithm alone: Winograd or
    /// the gathered columns for two chains of one geometry; Winograd, the wide grid or im2col for two plain
    /// gradients (not 1×1, not direct); otherwise they run one after the other.
    var path: Path {
        if let dataChain = fusion.dataChain, let weightChain = fusion.weightChain {
            let (d, w) = (FusedConvolutionChain(dataChain), FusedConvolutionChain(weightChain))
            guard d.geometry == w.geometry else { return .sequence }
            return ConvolutionAlgorithm.winograd(d.geometry).map { .winograd($0) } ?? .gathered(d.geometry)
        }
        guard fusion.dataChain == nil && fusion.weightChain == nil else { return .sequence }
        let g = ConvGeometry(backwardInput: dataInput)
        let algorithm = ConvolutionAlgorithm.forward(g)
        guard g == ConvGeometry(backwardWeight: weightInput), algorithm == ConvolutionAlgorithm.weight(g), !g.isPointwise else { return .sequence }
        switch algorithm {
        case .winograd(let winograd): return .winograd(winograd)
        case .wideGrid: return .wideGrid(g)
        case .im2col: return .im2col(g)
        case .direct: return .sequence
        }
    }
}
