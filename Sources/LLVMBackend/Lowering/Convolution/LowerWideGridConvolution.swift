import GraphIR

/// Unpadded stride-1 convolutions (all of MUNIT's but the downsampling ones: its padding is a separate
/// reflect `pad`) as a sum of kh·kw GEMMs over shifted views of the input, with no im2col or col2im.
///
/// The trick: compute the output on the "wide grid" of OH rows × W input columns instead of OH × OW. Then the
/// input seen from tap (ky, kx) is the plain matrix x + ky·W + kx of C rows × OH·W columns with row stride
/// H·W, which BLAS takes as it is. The W − OW extra columns per row are garbage (they wrap into the next
/// row) and are dropped when the result is compacted; in the gradients they are zeros. Every product stops
/// kw − 1 columns short of the full wide grid: those are extra columns too, and the last tap's rows would
/// otherwise run past the end of the input.
enum WideGridConvolution {
    static func taps(_ g: ConvGeometry) -> Int { g.kh * g.kw }
    /// Columns of the wide grid.
    static func wide(_ g: ConvGeometry) -> Int { g.oh * g.w }
    /// Columns the products compute: the wide grid less the last row's kw − 1 extra columns.
    static func used(_ g: ConvGeometry) -> Int { wide(g) - (g.kw - 1) }

    /// weight[O, C, kh, kw] → per-tap matrices wt[t, O, C], parallel over O; rows of wt written contiguously.
    static func repackPhase(_ g: ConvGeometry, weight: Int, into wt: Int) -> KernelPhase {
        KernelPhase(suffix: "_repack", parallelCount: g.o) { e in
            e.loop(e.begin, e.end) { o in
                e.loop(taps(g)) { t in
                    let row = (t * g.o + o) * g.c
                    e.loop(g.c) { c in e.store(e.load(weight, (o * g.c + c) * taps(g) + t), wt, row + c) }
                }
            }
        }
    }

    /// gy[N, O, OH, OW] → gy on the wide grid [N, O, OH·W], zeros in the extra columns; parallel over N·O.
    static func expandPhase(_ g: ConvGeometry, gy: Int, into wideGy: Int, dtype: DType) -> KernelPhase {
        KernelPhase(suffix: "_expand", parallelCount: g.n * g.o) { e in
            let zero = e.real(0, dtype)
            e.loop(e.begin, e.end) { plane in
                e.loop(g.oh) { oy in
                    let (from, to) = ((plane * g.oh + oy) * g.ow, plane * wide(g) + oy * g.w)
                    e.loop(g.ow) { ox in e.store(e.load(gy, from + ox), wideGy, to + ox) }
                    e.loop(g.ow, g.w) { ox in e.store(zero, wideGy, to + ox) }
                }
            }
        }
    }

    /// The offset of tap t's view of the input (ky = t / kw, kx = t % kw).
    static func shift(_ g: ConvGeometry, _ t: IRValue) -> IRValue { (t / g.kw) * g.w + t % g.kw }

    /// About this many columns per block: every tap's product runs over one block before the next, so the
    /// block of the result (or of gy) stays in cache across the kh·kw GEMMs instead of streaming from memory
    /// kh·kw times. Blocks are equal (the used columns split into ⌊used / target⌋ parts), never a sliver.
    static let blockColumns = 1024
    /// The weight gradient accumulates over columns into a small result, so it takes longer blocks.
    static let weightBlockColumns = 4096

    /// Calls `body(first column, columns)` for each block of the used columns.
    static func forEachBlock(_ e: KernelEmitter, _ g: ConvGeometry, target: Int = blockColumns, _ body: (IRValue, IRValue) -> Void) {
        let blocks = max(1, used(g) / target)
        let size = (used(g) + blocks - 1) / blocks
        e.loop(blocks) { block in
            let first = block * size
            body(first, e.min(e.index(size), e.index(used(g)) - first))
        }
    }

    static func forward(_ input: LoweringInput, _ g: ConvGeometry) -> KernelPlan {
        let hasBias = input.operands.count == 3, y = input.operands.count, wt = y + 1, wideY = y + 2
        let gemm = KernelPhase(suffix: "_gemm", parallelCount: g.n, usesBLAS: true) { e in
            e.loop(e.begin, e.end) { n in
                forEachBlock(e, g) { first, columns in
                    e.loop(taps(g)) { t in
                        e.gemm(input.dtype, transA: false, transB: false, m: e.index(g.o), n: columns, k: e.index(g.c),
                               a: e.pointer(wt, offset: t * (g.o * g.c)), lda: g.c,
                               b: e.pointer(0, offset: n * (g.c * g.h * g.w) + shift(g, t) + first), ldb: g.h * g.w,
                               beta: e.select(t.equal(e.index(0)), e.real(0, input.dtype), e.real(1, input.dtype)),
                               c: e.pointer(wideY, offset: n * (g.o * wide(g)) + first), ldc: wide(g))
                    }
                }
            }
        }
        // Drop the extra columns and add the bias, parallel over N·O.
        let compact = KernelPhase(suffix: "", parallelCount: g.n * g.o, storesEachPlaneOnce: true) { e in
            e.loop(e.begin, e.end) { plane in
                let bias = hasBias ? e.load(2, plane % g.o) : e.real(0, input.dtype)
                e.loop(g.oh) { oy in
                    let (from, to) = (plane * wide(g) + oy * g.w, (plane * g.oh + oy) * g.ow)
                    e.loop(g.ow) { ox in e.store(e.load(wideY, from + ox) + bias, y, to + ox) }
                }
            }
        }
        let scratch = [TensorType(input.dtype, [taps(g), g.o, g.c]), TensorType(input.dtype, [g.n, g.o, wide(g)])]
        return KernelPlan(name: "conv2d_\(g.name)", scratch: scratch,
                          phases: [repackPhase(g, weight: 1, into: wt), gemm, compact])
    }

    /// gx[n] = Σ_t wt[t]ᵀ · gy_wide[n] for samples `samples`, each tap's product added at its shift (the
    /// extra columns add zeros).
    static func emitDataProducts(_ e: KernelEmitter, _ g: ConvGeometry, _ dtype: DType, samples: (IRValue, IRValue),
                                 wt: Int, wideGy: Int, gx: Int) {
        let zero = e.real(0, dtype)
        e.loop(samples.0, samples.1) { n in
            let sample = n * (g.c * g.h * g.w)
            e.loop(g.c * g.h * g.w) { i in e.store(zero, gx, sample + i) }
            forEachBlock(e, g) { first, columns in
                e.loop(taps(g)) { t in
                    e.gemm(dtype, transA: true, transB: false, m: e.index(g.c), n: columns, k: e.index(g.o),
                           a: e.pointer(wt, offset: t * (g.o * g.c)), lda: g.c,
                           b: e.pointer(wideGy, offset: n * (g.o * wide(g)) + first), ldb: wide(g),
                           beta: e.real(1, dtype), c: e.pointer(gx, offset: sample + shift(g, t) + first), ldc: g.h * g.w)
                }
            }
        }
    }

    /// gwt[t] = Σ_n gy_wide[n] · (x[n] shifted by t)ᵀ over the whole batch.
    static func emitWeightProducts(_ e: KernelEmitter, _ g: ConvGeometry, _ dtype: DType, wideGy: Int, x: Int, gwt: Int) {
        e.loop(g.n) { n in
            forEachBlock(e, g, target: weightBlockColumns) { first, columns in
                e.loop(taps(g)) { t in
                    let initial = n.equal(e.index(0)).and(first.equal(e.index(0)))
                    e.gemm(dtype, transA: false, transB: true, m: e.index(g.o), n: e.index(g.c), k: columns,
                           a: e.pointer(wideGy, offset: n * (g.o * wide(g)) + first), lda: wide(g),
                           b: e.pointer(x, offset: n * (g.c * g.h * g.w) + shift(g, t) + first), ldb: g.h * g.w,
                           beta: e.select(initial, e.real(0, dtype), e.real(1, dtype)),
                           c: e.pointer(gwt, offset: t * (g.o * g.c)), ldc: g.c)
                }
            }
        }
    }

    /// Per-tap gradients gwt[t, O, C] → gw[O, C, kh, kw], parallel over O.
    static func unpackPhase(_ g: ConvGeometry, gwt: Int, into gw: Int) -> KernelPhase {
        KernelPhase(suffix: "", parallelCount: g.o) { e in
            e.loop(e.begin, e.end) { o in
                e.loop(taps(g)) { t in
                    let row = (t * g.o + o) * g.c
                    e.loop(g.c) { c in e.store(e.load(gwt, row + c), gw, (o * g.c + c) * taps(g) + t) }
                }
            }
        }
    }

    /// gx = Σ_t wt[t]ᵀ · gy on the wide grid: weights repacked per tap, gy expanded, then the products.
    static func backwardInput(_ input: LoweringInput, _ g: ConvGeometry) -> KernelPlan {
        let (gy, weight, gx, wt, wideGy) = (0, 1, 2, 3, 4)
        let gemm = KernelPhase(suffix: "", parallelCount: g.n, usesBLAS: true) { e in
            emitDataProducts(e, g, input.dtype, samples: (e.begin, e.end), wt: wt, wideGy: wideGy, gx: gx)
        }
        let scratch = [TensorType(input.dtype, [taps(g), g.o, g.c]), TensorType(input.dtype, [g.n, g.o, wide(g)])]
        return KernelPlan(name: "conv2d_backward_input_\(g.name)", scratch: scratch,
                          phases: [repackPhase(g, weight: weight, into: wt), expandPhase(g, gy: gy, into: wideGy, dtype: input.dtype), gemm])
    }

    /// gw per tap = Σ_n gy on the wide grid · (x shifted by the tap)ᵀ, then unpacked to [O, C, kh, kw].
    static func backwardWeight(_ input: LoweringInput, _ g: ConvGeometry) -> KernelPlan {
        let (x, gy, gw, wideGy, gwt) = (0, 1, 2, 3, 4)
        let gemm = KernelPhase(suffix: "_gemm", parallelCount: 1, usesBLAS: true) { e in
            emitWeightProducts(e, g, input.dtype, wideGy: wideGy, x: x, gwt: gwt)
        }
        let scratch = [TensorType(input.dtype, [g.n, g.o, wide(g)]), TensorType(input.dtype, [taps(g), g.o, g.c])]
        return KernelPlan(name: "conv2d_backward_weight_\(g.name)", scratch: scratch,
                          phases: [expandPhase(g, gy: gy, into: wideGy, dtype: input.dtype), gemm, unpackPhase(g, gwt: gwt, into: gw)])
    }

    /// Both gradients (a `conv2d_backward` node; buffers gy, w, x, gx, gw): gy laid on the wide grid once,
    /// then the weight's and the data's shifted GEMMs in one BLAS phase while it is in cache.
    static func backward(_ g: ConvGeometry, dtype: DType) -> KernelPlan {
        let (gy, weight, x, gx, gw, wt, wideGy, gwt) = (0, 1, 2, 3, 4, 5, 6, 7)
        let gemm = KernelPhase(suffix: "_gemm", parallelCount: 1, usesBLAS: true) { e in
            emitWeightProducts(e, g, dtype, wideGy: wideGy, x: x, gwt: gwt)
            emitDataProducts(e, g, dtype, samples: (e.index(0), e.index(g.n)), wt: wt, wideGy: wideGy, gx: gx)
        }
        let scratch = [TensorType(dtype, [taps(g), g.o, g.c]), TensorType(dtype, [g.n, g.o, wide(g)]), TensorType(dtype, [taps(g), g.o, g.c])]
        return KernelPlan(name: "conv2d_backward_\(g.name)", scratch: scratch, phases: [
            repackPhase(g, weight: weight, into: wt), expandPhase(g, gy: gy, into: wideGy, dtype: dtype), gemm,
            unpackPhase(g, gwt: gwt, into: gw),
        ])
    }
}
