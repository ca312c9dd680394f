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
    let fusion: ConvolutionBackwardFusion

    init(_ fusion: ConvolutionBackwardFusion) { self.fusion = fusion }

    /// Each gradient as a node of its own (a gathered chain's region already read).
    var dataInput: LoweringInput {
        LoweringInput(fusion.data, in: fusion.region, matched: fusion.dataChain.map { .gatheredConvolution($0) })
    }
    var weightInput: LoweringInput {
        LoweringInput(fusion.weight, in: fusion.region, matched: fusion.weightChain.map { .gatheredConvolution($0) })
    }

    /// How both gradients run: sharing gy's rearrangement, or one after the other (`path`, chosen in
    /// ConvolutionAlgorithm.swift).
    enum Path {
        case winograd(WinogradConvolution), gathered(GatheredConvolution), wideGrid(ConvGeometry), im2col(ConvGeometry), sequence
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
            guard case .kernel(let lower) = try? Lowerings.lowering(for: input.op) else { preconditionFailure("every convolution gradient has a kernel") }
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
