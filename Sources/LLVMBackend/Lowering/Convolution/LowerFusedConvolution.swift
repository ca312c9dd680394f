import GraphIR

/// Kernels for fused convolution chains (`FusedConvolutionChain`). For every family of classes of output
/// positions (`GatheredConvolution`): a gather of the columns it reads straight from the unpadded,
/// un-upsampled source (the padding and upsampling live in compile-time index tables), one BLAS product with
/// its classes' combined weights stacked, and a scatter into the result. Upsampling by 2 before a 5×5
/// convolution thus costs 9 taps per output instead of 25, the four phases share their columns, and neither
/// the upsampled nor the padded image is ever written. Each pass (gather, products, scatter) covers every
/// family, so a kernel is a handful of functions and thread dispatches however many classes the borders make.
enum FusedConvolution {
    static func plan(_ input: LoweringInput, _ chain: FusedConvolutionChain) -> KernelPlan {
        if let winograd = ConvolutionAlgorithm.winograd(chain.geometry) {
            switch chain.role {
            case .convolution: return winograd.forward(dtype: input.dtype, hasBias: chain.hasBias)
            case .dataGradient: return winograd.backwardInput(dtype: input.dtype)
            case .weightGradient: return winograd.backwardWeight(dtype: input.dtype)
            }
        }
        switch chain.role {
        case .convolution: return forward(input, chain)
        case .dataGradient: return backwardInput(input, chain)
        case .weightGradient: return backwardWeight(input, chain)
        }
    }

    /// `(start, step)` when `values` is an arithmetic sequence, so loops over it need no table.
    static func affine(_ values: [Int]) -> (start: Int, step: Int)? {
        guard let first = values.first else { return nil }
        let step = values.count > 1 ? values[1] - first : 1
        return values.enumerated().allSatisfy { $0.element == first + $0.offset * step } ? (first, step) : nil
    }

    /// `values[i]` in generated code: arithmetic when it is affine, else a lookup in a constant table.
    static func indexer(_ e: KernelEmitter, _ values: [Int]) -> (IRValue) -> IRValue {
        if let (start, step) = affine(values) { return { i in i * step + start } }
        let table = e.ir.constantTable(values)
        return { i in e.lookup(table, i) }
    }

    enum Direction { case gather, scatterAdd }

    /// Between the source image [N, C, H, W] and every family's columns (`ColumnLayout`): the gather
    /// writes each tap's cell (zero where it reads padding); the scatter zeroes the image plane and adds
    /// each column entry back onto the cell it came from. Parallel over N·C: a thread owns its planes, so
    /// scattered adds never collide. Taps are a run-time loop over tables (one loop body per class, not
    /// per tap: compile time); where a tap's column cells are consecutive (every upsampling phase away from
    /// the borders), the innermost loop is a plain strided copy the vectoriser handles.
    static func columnsPhase(_ g: GatheredConvolution, _ direction: Direction, image: Int, columns: Int, dtype: DType) -> KernelPhase {
        let layout = ColumnLayout(g, dtype: dtype)
        return KernelPhase(suffix: direction == .gather ? "_gather" : "_scatter", parallelCount: g.n * g.c) { e in
            let zero = e.real(0, dtype), origin = e.index(0)
            e.loop(e.begin, e.end) { plane in
                let sample = plane / g.c, channel = plane % g.c
                let imageBase = plane * (g.h * g.w)
                if direction == .scatterAdd { e.loop(g.h * g.w) { i in e.store(zero, image, imageBase + i) } }
                for (family, place) in zip(g.families, layout.families) where family.taps > 0 {
                    let (rowTaps, colTaps) = (family.rows.groupCount, family.cols.groupCount)
                    let colCount = family.cols.sources.count
                    let runs = ColumnRuns(family.cols.sources, taps: colTaps)
                    let rowSource = e.ir.constantTable(family.rows.sources.flatMap { $0 })
                    let colSource = e.ir.constantTable(family.cols.sources.flatMap { $0 })
                    let (runLo, runHi, runStart) = (e.ir.constantTable(runs.lo), e.ir.constantTable(runs.hi), e.ir.constantTable(runs.start))
                    let (familyBase, kStride, pStride) = (place.base, place.kStride, place.pStride)
                    e.loop(family.taps) { t in
                        let gy = t / colTaps, gx = t % colTaps
                        let rowBase = familyBase + (channel * family.taps + t) * kStride + sample * (family.positions * pStride)
                        let (lo, hi) = (e.lookup(runLo, gx), e.lookup(runHi, gx))
                        e.loop(e.index(0), e.index(family.rows.sources.count), vectorize: direction == .gather) { ri in
                            let sr = e.lookup(rowSource, ri * rowTaps + gy)
                            let lineBase = rowBase + ri * (colCount * pStride)
                            // Cells through the source table (borders: reflected, replicated or zero).
                            let tabled = { (ci: IRValue) in
                                let sc = e.lookup(colSource, ci * colTaps + gx)
                                let valid = sr.greaterEqual(origin).and(sc.greaterEqual(origin))
                                let cell = imageBase + e.max(sr, origin) * g.w + e.max(sc, origin)
                                switch direction {
                                case .gather: e.store(e.select(valid, e.load(image, cell), zero), columns, lineBase + ci * pStride)
                                case .scatterAdd: e.ifThen(valid) { e.accumulate(e.load(columns, lineBase + ci * pStride), image, cell) }
                                }
                            }
                            // Border cells are few: kept scalar (vectorised, they would only cost compile time).
                            e.loop(origin, lo, vectorize: false, tabled)
                            // The run of consecutive cells in between: a plain strided copy for the vectoriser
                            // (guarded: a row of the padding reads zeros throughout).
                            e.ifThen(sr.greaterEqual(origin), {
                                let cellBase = imageBase + sr * g.w + e.lookup(runStart, gx)
                                if direction == .gather && runs.step == 1 && pStride == 1 {
                                    e.copy(count: hi - lo, from: image, cellBase + lo, to: columns, lineBase + lo)
                                    return
                                }
                                e.loop(lo, hi, compact: true) { ci in
                                    let cell = cellBase + ci * runs.step
                                    switch direction {
                                    case .gather: e.store(e.load(image, cell), columns, lineBase + ci * pStride)
                                    case .scatterAdd: e.accumulate(e.load(columns, lineBase + ci * pStride), image, cell)
                                    }
                                }
                            }, else: {
                                if direction == .gather { e.loop(lo, hi, vectorize: false) { ci in e.store(zero, columns, lineBase + ci * pStride) } }
                            })
                            e.loop(hi, e.index(colCount), vectorize: false, tabled)
                        }
                    }
                }
            }
        }
    }

    /// Per column tap of a family, the longest run of positions `lo ..< hi` whose source cells are
    /// `start + i·step` (all inside the image), `step` the commonest difference between neighbours: the
    /// gather copies that run directly and looks up only the cells around it.
    struct ColumnRuns {
        var step = 1
        var lo: [Int] = [], hi: [Int] = [], start: [Int] = []

        init(_ sources: [[Int]], taps: Int) {
            var differences: [Int: Int] = [:]
            for gx in 0..<taps {
                for i in sources.indices.dropFirst() where sources[i][gx] >= 0 && sources[i - 1][gx] >= 0 {
                    differences[sources[i][gx] - sources[i - 1][gx], default: 0] += 1
                }
            }
            step = differences.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? 1
            for gx in 0..<taps {
                let s = sources.map { $0[gx] }
                var best = (0, 0), i = 0
                while i < s.count {
                    guard s[i] >= 0 else { i += 1; continue }
                    var j = i + 1
                    while j < s.count && s[j] == s[j - 1] + step { j += 1 }
                    if j - i > best.1 - best.0 { best = (i, j) }
                    i = j
                }
                lo.append(best.0)
                hi.append(best.1)
                start.append(best.1 > best.0 ? s[best.0] - best.0 * step : 0)
            }
        }
    }

    /// Between the convolution's output side [N, O, OH, OW] and every class's positions [O, N·family positions]:
    /// parallel over N·O. `toOutput` writes the output (plus the bias, if any); otherwise gy is gathered, as
    /// zeros at the positions of its family that a class does not own (so they add nothing to the products).
    static func positionsPhase(_ g: GatheredConvolution, toOutput: Bool, output: Int, positions: Int,
                               bias: Int?, dtype: DType) -> KernelPhase {
        KernelPhase(suffix: toOutput ? "" : "_gy", parallelCount: g.n * g.o, storesEachPlaneOnce: toOutput) { e in
            e.loop(e.begin, e.end) { plane in
                let sample = plane / g.o, channel = plane % g.o
                let outputBase = plane * (g.oh * g.ow)
                let shift = bias.map { e.load($0, channel) }
                for family in g.families {
                    for cls in family.members {
                        let outRow = indexer(e, cls.rows.outputs), outCol = indexer(e, cls.cols.outputs)
                        let rowSlot = indexer(e, cls.rowSlots), colSlot = indexer(e, cls.colSlots)
                        let familyCols = family.cols.sources.count
                        let positionBase = cls.positionOffset * (g.o * g.n) + channel * (g.n * family.positions) + sample * family.positions
                        if !toOutput && !cls.ownsEveryPosition {
                            e.loop(family.positions) { i in e.store(e.real(0, dtype), positions, positionBase + i) }
                        }
                        e.loop(cls.rows.outputs.count) { ri in
                            let outLine = outputBase + outRow(ri) * g.ow, line = positionBase + rowSlot(ri) * familyCols
                            e.loop(cls.cols.outputs.count) { ci in
                                guard toOutput else {
                                    e.store(e.load(output, outLine + outCol(ci)), positions, line + colSlot(ci))
                                    return
                                }
                                // A class whose taps all read padding has no product: its outputs are the bias.
                                let product = cls.taps == 0 ? nil : e.load(positions, line + colSlot(ci))
                                let value = product.map { p in shift.map { p + $0 } ?? p } ?? shift ?? e.real(0, dtype)
                                e.store(value, output, outLine + outCol(ci))
                            }
                        }
                    }
                }
            }
        }
    }

    /// Every family's products of one pass, each with its combined-weights buffer, in order: a generated
    /// phase per product where the families are narrow (`GatheredConvolution.hasSkinnyProducts`), else one
    /// BLAS phase.
    static func productsPhases(_ g: GatheredConvolution, columns: Int, positions: Int, _ products: [(combined: Int, kind: ConvolutionProduct)],
                               dtype: DType) -> [KernelPhase] {
        if g.hasSkinnyProducts {
            return products.map { skinnyPhase(g, $0.kind, combined: $0.combined, columns: columns, positions: positions, dtype: dtype) }
        }
        return [productsPhase(g, ColumnLayout(g, dtype: dtype), columns: columns, positions: positions, products, dtype: dtype)]
    }

    /// One BLAS phase: each of `products` with its combined-weights buffer, in order, over every family
    /// (one product's calls together: OpenBLAS slows down when calls of different shapes alternate).
    static func productsPhase(_ g: GatheredConvolution, _ layout: ColumnLayout, columns: Int, positions: Int,
                              _ products: [(combined: Int, kind: ConvolutionProduct)], dtype: DType) -> KernelPhase {
        let families = zip(g.families, layout.families).filter { $0.0.taps > 0 }
        return KernelPhase(suffix: "_gemm", parallelCount: 1, usesBLAS: true) { e in
            for (combined, kind) in products {
                for (family, place) in families {
                    emitBLASProduct(e, kind, g, family, dtype: dtype, combined: e.pointer(combined, offset: e.index(family.tapOffset * g.o * g.c)),
                                    columns: e.pointer(columns, offset: e.index(place.base)),
                                    positions: e.pointer(positions, offset: e.index(family.positionOffset * g.o * g.n)))
                }
            }
        }
    }

    /// One family's BLAS call (F its members, p its positions):
    /// - forward: positions[F·O, N·p] = combined[F·O, C·taps] · columns[C·taps, N·p];
    /// - data: columns[C·taps, N·p] = combined[F·O, C·taps]ᵀ · gy positions[F·O, N·p] (every member's share summed);
    /// - weight: combined gradient[F·O, C·taps] = gy positions[F·O, N·p] · columns[C·taps, N·p]ᵀ.
    static func emitBLASProduct(_ e: KernelEmitter, _ kind: ConvolutionProduct, _ g: GatheredConvolution, _ family: GatheredConvolution.Family,
                                dtype: DType, combined: IRValue, columns: IRValue, positions: IRValue) {
        let width = g.n * family.positions, depth = g.c * family.taps, rows = family.members.count * g.o, zero = e.real(0, dtype)
        switch kind {
        case .forward:
            e.gemm(dtype, transA: false, transB: false, m: rows, n: width, k: depth, a: combined, lda: depth,
                   b: columns, ldb: width, beta: zero, c: positions, ldc: width)
        case .data:
            e.gemm(dtype, transA: true, transB: false, m: depth, n: width, k: rows, a: combined, lda: depth,
                   b: positions, ldb: width, beta: zero, c: columns, ldc: width)
        case .weight:
            e.gemm(dtype, transA: false, transB: true, m: rows, n: depth, k: width, a: positions, lda: width,
                   b: columns, ldb: width, beta: zero, c: combined, ldc: depth)
        }
    }

    /// weight [O, C, kh, kw] → every class's combined weights [O, C·taps] (sums of the taps each group
    /// merges), parallel over O.
    static func combinePhase(_ g: GatheredConvolution, weight: Int, into combined: Int) -> KernelPhase {
        KernelPhase(suffix: "_combine", parallelCount: g.o) { e in
            e.loop(e.begin, e.end) { oc in
                e.loop(g.c) { ci in
                    let base = (oc * g.c + ci) * (g.kh * g.kw)
                    let taps = (0..<(g.kh * g.kw)).map { e.load(weight, base + $0) }
                    for cls in g.classes {
                        let classBase = cls.tapOffset * (g.o * g.c) + oc * (g.c * cls.taps) + ci * cls.taps
                        for (gy, rowGroup) in cls.rows.groups.enumerated() {
                            for (gx, colGroup) in cls.cols.groups.enumerated() {
                                let terms = rowGroup.flatMap { ky in colGroup.map { kx in taps[ky * g.kw + kx] } }
                                e.store(terms.dropFirst().reduce(terms[0], +), combined, classBase + gy * cls.cols.groups.count + gx)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Every class's combined weight gradients → the weight gradient [O, C, kh, kw]: each tap collects the
    /// group that holds it in every class. Parallel over O.
    static func uncombinePhase(_ g: GatheredConvolution, combined: Int, into weight: Int, dtype: DType) -> KernelPhase {
        KernelPhase(suffix: "", parallelCount: g.o) { e in
            e.loop(e.begin, e.end) { oc in
                e.loop(g.c) { ci in
                    for ky in 0..<g.kh {
                        for kx in 0..<g.kw {
                            var sum: IRValue? = nil
                            for cls in g.classes {
                                guard let gy = cls.rows.groups.firstIndex(where: { $0.contains(ky) }),
                                      let gx = cls.cols.groups.firstIndex(where: { $0.contains(kx) }) else { continue }
                                let term = e.load(combined, cls.tapOffset * (g.o * g.c) + oc * (g.c * cls.taps) + ci * cls.taps
                                                  + gy * cls.cols.groups.count + gx)
                                sum = sum.map { $0 + term } ?? term
                            }
                            e.store(sum ?? e.real(0, dtype), weight, (oc * g.c + ci) * (g.kh * g.kw) + ky * g.kw + kx)
                        }
                    }
                }
            }
        }
    }

    static func scratch(_ g: GatheredConvolution, _ dtype: DType) -> [TensorType] {
        [TensorType(dtype, [g.combinesIdentically ? 1 : g.o * g.c * max(1, g.combinedTaps)]), TensorType(dtype, [max(1, ColumnLayout(g, dtype: dtype).elements)]),
         TensorType(dtype, [max(1, g.positionElements)])]
    }

    /// positions[O, N·p] = combined[O, C·taps] · columns[C·taps, N·p], per class; then stored with the bias.
    static func forward(_ input: LoweringInput, _ chain: FusedConvolutionChain) -> KernelPlan {
        let g = chain.geometry, dtype = input.dtype
        let y = input.operands.count, columns = y + 2, positions = y + 3
        let combined = g.combinesIdentically ? 1 : y + 1
        return KernelPlan(name: "conv2d_\(g.name)", scratch: scratch(g, dtype), phases: (g.combinesIdentically ? [] : [
            combinePhase(g, weight: 1, into: combined),
        ]) + [
            columnsPhase(g, .gather, image: 0, columns: columns, dtype: dtype),
        ] + productsPhases(g, columns: columns, positions: positions, [(combined, .forward)], dtype: dtype) + [
            positionsPhase(g, toOutput: true, output: y, positions: positions, bias: chain.hasBias ? 2 : nil, dtype: dtype),
        ])
    }

    /// columns[C·taps, N·p] = combined[O, C·taps]ᵀ · gy gathered [O, N·p], per class; then scattered onto gx.
    static func backwardInput(_ input: LoweringInput, _ chain: FusedConvolutionChain) -> KernelPlan {
        let g = chain.geometry, dtype = input.dtype
        let (gy, gx, columns, positions) = (0, 2, 4, 5)
        let combined = g.combinesIdentically ? 1 : 3
        return KernelPlan(name: "conv2d_backward_input_\(g.name)", scratch: scratch(g, dtype), phases: (g.combinesIdentically ? [] : [
            combinePhase(g, weight: 1, into: combined),
        ]) + [
            positionsPhase(g, toOutput: false, output: gy, positions: positions, bias: nil, dtype: dtype),
        ] + productsPhases(g, columns: columns, positions: positions, [(combined, .data)], dtype: dtype) + [
            columnsPhase(g, .scatterAdd, image: gx, columns: columns, dtype: dtype),
        ])
    }

    /// combined gradient[O, C·taps] = gy gathered [O, N·p] · columns[C·taps, N·p]ᵀ, per class; then each
    /// weight tap collects its groups.
    static func backwardWeight(_ input: LoweringInput, _ chain: FusedConvolutionChain) -> KernelPlan {
        let g = chain.geometry, dtype = input.dtype
        let (x, gy, gw, columns, positions) = (0, 1, 2, 4, 5)
        let combined = g.combinesIdentically ? gw : 3
        return KernelPlan(name: "conv2d_backward_weight_\(g.name)", scratch: scratch(g, dtype), phases: [
            columnsPhase(g, .gather, image: x, columns: columns, dtype: dtype),
            positionsPhase(g, toOutput: false, output: gy, positions: positions, bias: nil, dtype: dtype),
        ] + productsPhases(g, columns: columns, positions: positions, [(combined, .weight)], dtype: dtype)
          + (g.combinesIdentically ? [] : [uncombinePhase(g, combined: combined, into: gw, dtype: dtype)]))
    }

    /// Both gradients of one gathered convolution (a `conv2d_backward` node; buffers gy, w, x, gx, gw): gy
    /// gathered into positions once for both products; x's columns gathered, then the weight products read
    /// them and the data products overwrite them with gx's columns, one BLAS phase in all;
    /// then the weight taps collected and the columns scattered onto gx.
    static func backward(_ g: GatheredConvolution, dtype: DType) -> KernelPlan {
        let (gy, weight, x, gx, gw) = (0, 1, 2, 3, 4)
        let (combined, columns, positions, combinedGradient) = (5, 6, 7, 8)
        let identical = g.combinesIdentically
        return KernelPlan(name: "conv2d_backward_\(g.name)", scratch: scratch(g, dtype) + [scratch(g, dtype)[0]], phases: (identical ? [] : [
            combinePhase(g, weight: weight, into: combined),
        ]) + [
            columnsPhase(g, .gather, image: x, columns: columns, dtype: dtype),
            positionsPhase(g, toOutput: false, output: gy, positions: positions, bias: nil, dtype: dtype),
        ] + productsPhases(g, columns: columns, positions: positions, [
            (identical ? gw : combinedGradient, .weight), (identical ? weight : combined, .data),
        ], dtype: dtype) + (identical ? [] : [uncombinePhase(g, combined: combinedGradient, into: gw, dtype: dtype)]) + [
            columnsPhase(g, .scatterAdd, image: gx, columns: columns, dtype: dtype),
        ])
    }
}

extension GatheredConvolution: Equatable {
    /// The same convolution: the classes follow from the sizes and the two axes.
    static func == (a: GatheredConvolution, b: GatheredConvolution) -> Bool {
        (a.n, a.c, a.o) == (b.n, b.c, b.o) && a.rows == b.rows && a.cols == b.cols
    }
}
