internal import CLLVM
import GraphIR

/// A convolution's geometry and the compile-time tables of its taps: for kernel row `ky`, the output rows
/// whose input row lies inside the image (`rowsLo[ky] ..< rowsHi[ky]`), and the same for columns. Everything
/// outside is a zero of the padding, so im2col writes zeros there without testing each cell.
struct ConvGeometry: Equatable {
    let n, c, h, w, o, kh, kw, oh, ow: Int
    let stride: [Int], pad: [Int]
    var plane: Int { oh * ow }
    var patch: Int { c * kh * kw }
    /// A 1×1, stride-1, unpadded convolution is a plain matrix product on the input: no im2col.
    var isPointwise: Bool { kh == 1 && kw == 1 && stride == [1, 1] && pad.allSatisfy { $0 == 0 } }
    var name: String {
        "\(KernelName.pair("k", [kh, kw]))_\(KernelName.pair("s", stride))_\(KernelName.pad(pad))_\(KernelName.shape([n, c, h, w]))_to\(o)"
    }

    init(x: [Int], kernel: [Int], outputChannels: Int, output: [Int], attributes: Attributes) {
        (n, c, h, w) = (x[0], x[1], x[2], x[3])
        (o, kh, kw) = (outputChannels, kernel[0], kernel[1])
        (oh, ow) = (output[2], output[3])
        stride = attributes.ints("stride")
        pad = attributes.ints("pad")
    }

    /// The convolution a `conv2d_backward_input` node (gy, w → gx) differentiates.
    init(backwardInput input: LoweringInput) {
        let gy = input.operands[0].shape, weight = input.operands[1].shape
        self.init(x: input.result.shape, kernel: [weight[2], weight[3]], outputChannels: weight[0], output: gy, attributes: input.attributes)
    }

    /// The convolution a `conv2d_backward_weight` node (x, gy → gw) differentiates.
    init(backwardWeight input: LoweringInput) {
        let gy = input.operands[1].shape
        self.init(x: input.operands[0].shape, kernel: input.attributes.ints("kernel"), outputChannels: gy[1], output: gy,
                  attributes: input.attributes)
    }

    /// Outputs o with 0 ≤ o·stride + tap − before < size.
    static func valid(tap: Int, stride: Int, before: Int, size: Int, outputs: Int) -> (Int, Int) {
        var lo = 0
        while lo < outputs && lo * stride + tap - before < 0 { lo += 1 }
        var hi = outputs
        while hi > lo && (hi - 1) * stride + tap - before >= size { hi -= 1 }
        return (lo, hi)
    }

    struct Tables {
        let rowsLo, rowsHi, colsLo, colsHi: (global: LLVMValueRef, type: LLVMTypeRef)
    }

    func tables(_ ir: IRModule) -> Tables {
        let rows = (0..<kh).map { ConvGeometry.valid(tap: $0, stride: stride[0], before: pad[2], size: h, outputs: oh) }
        let cols = (0..<kw).map { ConvGeometry.valid(tap: $0, stride: stride[1], before: pad[0], size: w, outputs: ow) }
        return Tables(rowsLo: ir.constantTable(rows.map(\.0)), rowsHi: ir.constantTable(rows.map(\.1)),
                      colsLo: ir.constantTable(cols.map(\.0)), colsHi: ir.constantTable(cols.map(\.1)))
    }

    /// Visits every patch row (ci, ky, kx) of input channel `ci` and its valid output rows:
    /// `valid(colRow, inputRow, kx, colLo, colHi)` for output rows whose input row is inside the image,
    /// `outside(colRow)` for rows that read padding. `colRow` is the offset of that output row in the columns.
    func forEachTap(_ e: KernelEmitter, _ t: Tables, channel ci: IRValue, vectorizeRows: Bool = true,
                    valid body: (_ colRow: IRValue, _ inputRow: IRValue, _ kx: IRValue, _ lo: IRValue, _ hi: IRValue) -> Void,
                    outside: ((_ colRow: IRValue) -> Void)? = nil) {
        e.loop(kh) { ky in
            let (rlo, rhi) = (e.lookup(t.rowsLo, ky), e.lookup(t.rowsHi, ky))
            e.loop(kw) { kx in
                let patchRow = (ci * kh + ky) * kw + kx
                let (clo, chi) = (e.lookup(t.colsLo, kx), e.lookup(t.colsHi, kx))
                if let outside {
                    e.loop(e.index(0), rlo) { oy in outside(patchRow * plane + oy * ow) }
                    e.loop(rhi, e.index(oh)) { oy in outside(patchRow * plane + oy * ow) }
                }
                e.loop(rlo, rhi, vectorize: vectorizeRows) { oy in
                    let inputRow = ci * (h * w) + (oy * stride[0] + ky - pad[2]) * w
                    body(patchRow * plane + oy * ow, inputRow, kx, clo, chi)
                }
            }
        }
    }

    /// The im2col phase, parallel over (sample, channel): scratch `col` holds [N, C·kh·kw, oh·ow], each
    /// sample's patches (zeros where they overlap the padding).
    func im2colPhase(x: Int, col: Int, dtype: DType) -> KernelPhase {
        KernelPhase(suffix: "_im2col", parallelCount: n * c) { e in
            let t = tables(e.ir), zero = e.real(0, dtype)
            e.loop(e.begin, e.end) { nc in
                let sample = nc / c, ci = nc % c
                let xOffset = sample * (c * h * w), colOffset = sample * (patch * plane)
                forEachTap(e, t, channel: ci, valid: { colRow, inputRow, kx, lo, hi in
                    let row = colOffset + colRow
                    e.loop(e.index(0), lo) { ox in e.store(zero, col, row + ox) }
                    e.loop(lo, hi) { ox in e.store(e.load(x, xOffset + inputRow + ox * stride[1] + kx - pad[0]), col, row + ox) }
                    e.loop(hi, e.index(ow)) { ox in e.store(zero, col, row + ox) }
                }, outside: { colRow in e.loop(ow) { ox in e.store(zero, col, colOffset + colRow + ox) } })
            }
        }
    }

    /// The col2im phase, parallel over (sample, channel): gx[n, c] (zeroed first) += its patch rows of the
    /// columns scattered back onto the image. Channels write disjoint planes, so threads never collide.
    func col2imPhase(col: Int, x: Int, dtype: DType) -> KernelPhase {
        KernelPhase(suffix: "_col2im", parallelCount: n * c) { e in
            let t = tables(e.ir), zero = e.real(0, dtype)
            e.loop(e.begin, e.end) { nc in
                let sample = nc / c, ci = nc % c
                let xOffset = sample * (c * h * w), colOffset = sample * (patch * plane)
                e.loop(h * w) { i in e.store(zero, x, xOffset + ci * (h * w) + i) }
                forEachTap(e, t, channel: ci, vectorizeRows: false, valid: { colRow, inputRow, kx, lo, hi in
                    e.loop(lo, hi) { ox in
                        e.accumulate(e.load(col, colOffset + colRow + ox), x, xOffset + inputRow + ox * stride[1] + kx - pad[0])
                    }
                })
            }
        }
    }
}

extension ConvGeometry {
    /// Per sample n in `samples`: `target`[n] = Wᵀ · gy[n] through BLAS, the columns [C·kh·kw, OH·OW] (gx
    /// itself for a 1×1 convolution).
    func emitDataProducts(_ e: KernelEmitter, _ dtype: DType, samples: (IRValue, IRValue), gy: Int, weight: Int, target: Int) {
        e.loop(samples.0, samples.1) { n in
            let sampleSize = isPointwise ? c * h * w : patch * plane
            e.gemm(dtype, transA: true, transB: false, m: patch, n: plane, k: o,
                   a: e.pointer(weight, offset: e.index(0)), lda: patch, b: e.pointer(gy, offset: n * (o * plane)), ldb: plane,
                   beta: e.real(0, dtype), c: e.pointer(target, offset: n * sampleSize), ldc: plane)
        }
    }

    /// gW[O, C·kh·kw] = Σ_n gy[n] · `source`[n]ᵀ (the columns of x, or x itself for a 1×1 convolution),
    /// accumulated by the GEMM's beta after the first sample: one caller over the whole batch, since the
    /// sum over samples must not be split across threads.
    func emitWeightProducts(_ e: KernelEmitter, _ dtype: DType, gy: Int, source: Int, gw: Int) {
        e.loop(n) { sample in
            let sampleSize = isPointwise ? c * h * w : patch * plane
            let beta = e.select(sample.equal(e.index(0)), e.real(0, dtype), e.real(1, dtype))
            e.gemm(dtype, transA: false, transB: true, m: o, n: patch, k: plane,
                   a: e.pointer(gy, offset: sample * (o * plane)), lda: plane, b: e.pointer(source, offset: sample * sampleSize), ldb: plane,
                   beta: beta, c: e.pointer(gw, offset: e.index(0)), ldc: patch)
        }
    }
}

/// How a plain convolution (or its gradient) is computed: one choice per geometry, read by the lowerings
/// below and by the paired gradients of `conv2d_backward`.
enum ConvolutionAlgorithm: Equatable {
    case direct, winograd(WinogradConvolution), wideGrid, im2col

    /// The forward convolution's and its data gradient's algorithm.
    static func forward(_ g: ConvGeometry) -> ConvolutionAlgorithm {
        if g.o <= DirectConvolution.maximumChannels { return .direct }
        if let winograd = WinogradConvolution(g) { return .winograd(winograd) }
        return WideGridConvolution.applies(g) ? .wideGrid : .im2col
    }

    /// The weight gradient's: few output channels still favour the wide grid's GEMMs when it applies
    /// (measured: 64→3, 7×7 on 64×64: 1.5 ms against 3.7 ms for the direct dot products).
    static func weight(_ g: ConvGeometry) -> ConvolutionAlgorithm {
        if let winograd = WinogradConvolution(g) { return .winograd(winograd) }
        if WideGridConvolution.applies(g) { return .wideGrid }
        return g.o <= DirectConvolution.maximumChannels ? .direct : .im2col
    }
}

extension KernelEmitter {
    /// C[M,N] = alpha·op(A)·op(B) + beta·C, row-major, through OpenBLAS (sgemm or dgemm by dtype).
    func gemm(_ dtype: DType, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
              a: IRValue, lda: Int, b: IRValue, ldb: Int, beta: IRValue, c: IRValue, ldc: Int) {
        gemm(dtype, transA: transA, transB: transB, m: index(m), n: index(n), k: index(k), a: a, lda: lda, b: b, ldb: ldb,
             beta: beta, c: c, ldc: ldc)
    }

    /// The same with sizes known only at run time (blocked loops).
    func gemm(_ dtype: DType, transA: Bool, transB: Bool, m: IRValue, n: IRValue, k: IRValue,
              a: IRValue, lda: Int, b: IRValue, ldb: Int, beta: IRValue, c: IRValue, ldc: Int) {
        let real = ir.type(of: dtype), i = ir.i32, p = ir.pointer
        let rowMajor = 101, noTrans = 111, trans = 112
        callVoid(dtype == .f32 ? "cblas_sgemm" : "cblas_dgemm",
                 [i, i, i, i, i, i, real, p, i, p, i, real, p, i],
                 [int32(rowMajor), int32(transA ? trans : noTrans), int32(transB ? trans : noTrans),
                  int32(m), int32(n), int32(k), self.real(1, dtype), a, int32(lda), b, int32(ldb),
                  convert(beta, to: dtype), c, int32(ldc)])
    }
}

extension Lowerings {
    static let contraction: [String: Lowering] = [
        "conv2d": .kernel(conv2dPlan),
        "conv2d_backward_input": .kernel(conv2dBackwardInputPlan),
        "conv2d_backward_weight": .kernel(conv2dBackwardWeightPlan),
        "matmul": .kernel { input in
            let (m, k, n) = (input.operands[0].shape[0], input.operands[0].shape[1], input.operands[1].shape[1])
            return KernelPlan(name: "matmul_\(m)x\(k)_\(k)x\(n)", parallelCount: 1, usesBLAS: true) { e in
                e.gemm(input.dtype, transA: false, transB: false, m: m, n: n, k: k, a: e.pointer(0, offset: e.index(0)), lda: k,
                       b: e.pointer(1, offset: e.index(0)), ldb: n, beta: e.real(0, input.dtype), c: e.pointer(2, offset: e.index(0)), ldc: n)
            }
        },
        "linear": .kernel { input in
            let (batch, features, outs) = (input.operands[0].shape[0], input.operands[0].shape[1], input.operands[1].shape[0])
            let hasBias = input.operands.count == 3, y = input.operands.count
            return KernelPlan(name: "linear_\(batch)x\(features)_to\(outs)", parallelCount: 1, usesBLAS: true) { e in
                if hasBias { e.loop(batch) { r in e.loop(outs) { j in e.store(e.load(2, j), y, r * outs + j) } } }
                e.gemm(input.dtype, transA: false, transB: true, m: batch, n: outs, k: features, a: e.pointer(0, offset: e.index(0)),
                       lda: features, b: e.pointer(1, offset: e.index(0)), ldb: features,
                       beta: e.real(hasBias ? 1 : 0, input.dtype), c: e.pointer(y, offset: e.index(0)), ldc: outs)
            }
        },
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
