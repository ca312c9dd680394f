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
