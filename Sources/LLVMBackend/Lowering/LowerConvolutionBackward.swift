import GraphIR

/// Fused `conv2d_backward` nodes (`fuse-conv-backward`): a convolution's data gradient and weight gradient
/// in one kernel. Buffers: operands gy, w, x; results gx, gw; then scratch. Where both gradients take the
/// same path, gy is rearranged once for both products and both run in one BLAS phase:
/// - Winograd (3×3, stride 1, enough channels): gy's tile transform shared, dV written over V;
/// - gathered convolutions (both `fuse-conv-input` chains of one geometry): gy gathered per output class
///   once; the data product overwrites the columns of x the weight product has just read;
/// - shifted GEMMs on the wide grid: gy expanded onto the grid once;
/// - im2col: one columns buffer, x's columns for the weight product, then gx's columns.
/// Otherwise (a direct data gradient beside a wide-grid weight gradient, 1×1 convolutions) the two
/// kernels' phases run one after the other in this kernel, gy still in cache.
struct ConvolutionBackward {
    /// The region's data gradient (gy, w → gx) and weight gradient (x, gy → gw), each plain or fused.
    let data: Node, weight: Node
    let region: Graph

    init(region: Graph) throws(BackendError) {
        self.region = region
        let nodes = region.nodes.filter { !$0.op.traits.contains(.constant) }
        func kind(_ node: Node) -> String { node.region != nil ? node.attributes.string("kind") : node.op.name }
        let args = region.arguments.map(\.value), outs = region.outputs.map(\.value)
        guard nodes.count == 2, kind(nodes[0]) == "conv2d_backward_input", kind(nodes[1]) == "conv2d_backward_weight",
              args.count == 3, nodes[0].operands == [args[0], args[1]], nodes[1].operands == [args[2], args[0]],
              outs == [nodes[0].results[0], nodes[1].results[0]] else {
            throw BackendError("a fused 'conv2d_backward' node must hold conv2d_backward_input(gy, w) then "
                + "conv2d_backward_weight(x, gy) (plain or fused), with arguments gy, w, x and results gx, gw (got \(nodes.map(kind)))")
        }
        (data, weight) = (nodes[0], nodes[1])
        try Lowerings.checkFused(dataInput)
        try Lowerings.checkFused(weightInput)
    }

    var dataInput: LoweringInput { LoweringInput(data, in: region) }
    var weightInput: LoweringInput { LoweringInput(weight, in: region) }

    /// How both gradients run: sharing gy's rearrangement, or one after the other.
    enum Path {
        case winograd(WinogradConvolution), gathered(GatheredConvolution), wideGrid(ConvGeometry), im2col(ConvGeometry), sequence
    }

    var path: Path {
        if data.region != nil && weight.region != nil {
            guard let d = try? FusedConvolutionChain(kind: "conv2d_backward_input", region: data.region!),
                  let w = try? FusedConvolutionChain(kind: "conv2d_backward_weight", region: weight.region!),
                  d.geometry == w.geometry else { return .sequence }
            return WinogradConvolution(d.geometry).map { .winograd($0) } ?? .gathered(d.geometry)
        }
        guard data.region == nil && weight.region == nil else { return .sequence }
        let g = ConvGeometry(backwardInput: dataInput)
        // Shared only where both gradients would take the same algorithm alone.
        let algorithm = ConvolutionAlgorithm.forward(g)
        guard g == ConvGeometry(backwardWeight: weightInput), algorithm == ConvolutionAlgorithm.weight(g), !g.isPointwise else { return .sequence }
        switch algorithm {
        case .winograd(let winograd): return .winograd(winograd)
        case .wideGrid: return .wideGrid(g)
        case .im2col: return .im2col(g)
        case .direct: return .sequence
        }
    }

    /// The kernel: one shared-gy plan where both gradients take the same path, else the two in sequence.
    func plan(_ input: LoweringInput) -> KernelPlan {
        switch path {
        case .winograd(let g): return g.backward(dtype: input.dtype)
        case .gathered(let g): return FusedConvolution.backward(g, dtype: input.dtype)
        case .wideGrid(let g): return WideGridConvolution.backward(g, dtype: input.dtype)
        case .im2col(let g): return Self.im2colBackward(g, dtype: input.dtype)
        case .sequence: return sequence()
        }
    }

    /// im2col of x into the columns, the weight product over the batch, then per sample gx's columns into the
    /// same buffer and col2im onto gx.
    static func im2colBackward(_ g: ConvGeometry, dtype: DType) -> KernelPlan {
        let (gy, weight, x, gx, gw, columns) = (0, 1, 2, 3, 4, 5)
        let gemm = KernelPhase(suffix: "_gemm", parallelCount: 1, usesBLAS: true) { e in
            g.emitWeightProducts(e, dtype, gy: gy, source: columns, gw: gw)
            g.emitDataProducts(e, dtype, samples: (e.index(0), e.index(g.n)), gy: gy, weight: weight, target: columns)
        }
        var col2im = g.col2imPhase(col: columns, x: gx, dtype: dtype)
        col2im.suffix = ""
        return KernelPlan(name: "conv2d_backward_\(g.name)", scratch: Lowerings.columns(g, dtype),
                          phases: [g.im2colPhase(x: x, col: columns, dtype: dtype), gemm, col2im])
    }

    /// The data gradient's kernel then the weight gradient's, each on its own scratch.
    func sequence() -> KernelPlan {
        let lower = { (input: LoweringInput) -> KernelPlan in
            guard case .kernel(let lower) = try? Lowerings.lowering(for: input.op) else { preconditionFailure("checked in init") }
            return lower(input)
        }
        let (dataPlan, weightPlan) = (lower(dataInput), lower(weightInput))
        let scratchBase = 5
        let dataMap = [0, 1, 3] + dataPlan.scratch.indices.map { scratchBase + $0 }
        let weightMap = [2, 0, 4] + weightPlan.scratch.indices.map { scratchBase + dataPlan.scratch.count + $0 }
        let name = "conv2d_backward_" + dataPlan.name.replacingOccurrences(of: "conv2d_backward_input_", with: "")
        // Phase suffixes name the kernel's functions, so each plan's get a prefix of their own.
        func renamed(_ phase: KernelPhase, _ map: [Int], _ prefix: String) -> KernelPhase {
            var phase = phase.remapped(map)
            phase.suffix = prefix + phase.suffix
            return phase
        }
        return KernelPlan(name: name, scratch: dataPlan.scratch + weightPlan.scratch,
                          phases: dataPlan.phases.map { renamed($0, dataMap, "_data") } + weightPlan.phases.map { renamed($0, weightMap, "_weight") })
    }
}
