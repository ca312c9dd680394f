import GraphIR

/// Plain convolutions and their gradients: the algorithm `ConvolutionAlgorithm` picks (direct, Winograd,
/// wide grid), or im2col and one BLAS product per sample.
extension Lowerings {
    static let convolution: [String: Lowering] = [
        Ops.conv2d.name: .kernel(conv2dPlan),
        Ops.conv2dBackwardInput.name: .kernel(conv2dBackwardInputPlan),
        Ops.conv2dBackwardWeight.name: .kernel(conv2dBackwardWeightPlan),
    ]

    /// Columns for every sample must fit in scratch; convolutions with few output channels are direct.
    static func columns(_ g: ConvGeometry, _ dtype: DType) -> [TensorType] { [TensorType(dtype, [g.n, g.patch, g.plane])] }

    /// Parallel im2col (skipped for 1×1 convolutions), then per sample y[n] (+)= W[O, C·kh·kw] · col[n]
    /// through BLAS, the bias broadcast into y first.
    static let conv2dPlan: @Sendable (LoweringInput) -> KernelPlan = { input in
        let x = input.operands[0].shape, wShape = input.operands[1].shape
        let g = ConvGeometry(x: x, kernel: [wShape[2], wShape[3]], outputChannels: wShape[0], output: input.result.shape,
                             attributes: input.attributes)
        switch ConvolutionAlgorithm.forward(g) {
        case .direct: return DirectConvolution.forward(input, g)
        case .winograd(let winograd): return winograd.forward(dtype: input.dtype, hasBias: input.operands.count == 3)
        case .wideGrid: return WideGridConvolution.forward(input, g)
        case .im2col: break
        }
        let hasBias = input.operands.count == 3, y = input.operands.count, col = y + 1
        let gemm = KernelPhase(suffix: "", parallelCount: g.n, usesBLAS: true) { e in
            e.loop(e.begin, e.end) { n in
                let xOffset = n * (g.c * g.h * g.w), yOffset = n * (g.o * g.plane)
                if hasBias {
                    e.loop(g.o) { oc in
                        let bias = e.load(2, oc)
                        e.loop(g.plane) { i in e.store(bias, y, yOffset + oc * g.plane + i) }
                    }
                }
                let b = g.isPointwise ? e.pointer(0, offset: xOffset) : e.pointer(col, offset: n * (g.patch * g.plane))
                e.gemm(input.dtype, transA: false, transB: false, m: g.o, n: g.plane, k: g.patch,
                       a: e.pointer(1, offset: e.index(0)), lda: g.patch, b: b, ldb: g.plane,
                       beta: e.real(hasBias ? 1 : 0, input.dtype), c: e.pointer(y, offset: yOffset), ldc: g.plane)
            }
        }
        if g.isPointwise { return KernelPlan(name: "conv2d_\(g.name)", phases: [gemm]) }
        return KernelPlan(name: "conv2d_\(g.name)", scratch: columns(g, input.dtype),
                          phases: [g.im2colPhase(x: 0, col: col, dtype: input.dtype), gemm])
    }

    /// Per sample columns[n] = Wᵀ · gy[n] through BLAS, then a parallel col2im onto gx (a 1×1 convolution
    /// writes gx directly).
    static let conv2dBackwardInputPlan: @Sendable (LoweringInput) -> KernelPlan = { input in
        let g = ConvGeometry(backwardInput: input)
        switch ConvolutionAlgorithm.forward(g) {
        case .direct: return DirectConvolution.backwardInput(input, g)
        case .winograd(let winograd): return winograd.backwardInput(dtype: input.dtype)
        case .wideGrid: return WideGridConvolution.backwardInput(input, g)
        case .im2col: break
        }
        let gemm = KernelPhase(suffix: g.isPointwise ? "" : "_gemm", parallelCount: g.n, usesBLAS: true) { e in
            g.emitDataProducts(e, input.dtype, samples: (e.begin, e.end), gy: 0, weight: 1, target: g.isPointwise ? 2 : 3)
        }
        let name = "conv2d_backward_input_\(g.name)"
        if g.isPointwise { return KernelPlan(name: name, phases: [gemm]) }
        var col2im = g.col2imPhase(col: 3, x: 2, dtype: input.dtype)
        col2im.suffix = ""
        return KernelPlan(name: name, scratch: columns(g, input.dtype), phases: [gemm, col2im])
    }

    /// Parallel im2col of x, then gW[O, C·kh·kw] = Σ_n gy[n] · col[n]ᵀ, accumulated by the GEMM's beta after
    /// the first sample.
    static let conv2dBackwardWeightPlan: @Sendable (LoweringInput) -> KernelPlan = { input in
        let g = ConvGeometry(backwardWeight: input)
        switch ConvolutionAlgorithm.weight(g) {
        case .direct: return DirectConvolution.backwardWeight(input, g)
        case .winograd(let winograd): return winograd.backwardWeight(dtype: input.dtype)
        case .wideGrid: return WideGridConvolution.backwardWeight(input, g)
        case .im2col: break
        }
        // One call over the whole batch: the sum over samples must not be split across threads.
        let gemm = KernelPhase(suffix: "", parallelCount: 1, usesBLAS: true) { e in
            g.emitWeightProducts(e, input.dtype, gy: 1, source: g.isPointwise ? 0 : 3, gw: 2)
        }
        let name = "conv2d_backward_weight_\(g.name)"
        if g.isPointwise { return KernelPlan(name: name, phases: [gemm]) }
        return KernelPlan(name: name, scratch: columns(g, input.dtype), phases: [g.im2colPhase(x: 0, col: 3, dtype: input.dtype), gemm])
    }
}
