import GraphIR

/// A gathered-convolution family's product generated for a small width P = N·positions instead of a BLAS call.
///
/// Why: MUNIT's discriminators end with 4×4 stride-2 convolutions from 256 to 512 channels on 8×8, 4×4 and
/// 2×2 planes, so at a 64×64 crop P is 16, 4 or 1 and each product is matrix–vector-like: bound by reading
/// (or, for the weight gradient, writing) the [M, K] combined weights (M = members·O, K = C·taps: 512 × 4096,
/// 8 MB), which OpenBLAS does at about 10 GB/s. Here every weight row is streamed once, vectorised along K,
/// against the family's columns laid out transposed, X[P, K] (`FusedConvolution.ColumnLayout`), so each
/// position's column is contiguous along K:
/// - forward `Y[M, P] = W · Xᵀ`: parallel over blocks of rows, each block's dot products with every position;
/// - weight gradient `dW[M, K] = gY · X`: parallel over blocks of rows, a rank-P update of each row;
/// - data gradient `X[P, K] = gYᵀ · W`: parallel over ranges of K, each thread walking every row of W over its
///   range once and accumulating its slice of X.
/// A depth that is not a multiple of the lanes finishes with the same code on scalars.
struct SkinnyProduct {
    let kind: ConvolutionProduct
    /// M, P and K.
    let rows, width, depth: Int
    /// Elements per vector (16 floats or 8 doubles on AVX-512, half that on AVX2) and vector registers.
    let lanes, registers: Int
    let operands: Operands

    /// The widest family that takes these products by default (`ConvolutionTuning.skinnyProductsUpToWidth`),
    /// on AVX-512 and AVX2 code alike (docs/GEMM.md). Measured on the Xeon, 2 threads, K = 4096, M = 512: at
    /// widths 1, 4 and 16 every product is faster than OpenBLAS's; at 25 and 36 about level for the
    /// gradients (faster forward), and at 64 the data gradient is slower. 32 instead of 16 changed nothing
    /// measurable at a 64×64 crop of batch 2 (widths 32), so the default stays where it clearly pays.
    static let defaultMaximumWidth = 16

    /// Where the family's operands start, as buffer and element offset: combined weights (or their gradient)
    /// [M, K], transposed columns [P, K] whose rows are `columnStride` apart (padded: `ColumnLayout`),
    /// positions (or gy) [M, P].
    struct Operands {
        var weights: Int, weightsBase: Int
        var columns: Int, columnsBase: Int, columnStride: Int
        var positions: Int, positionsBase: Int
    }

    init(_ kind: ConvolutionProduct, rows: Int, width: Int, depth: Int, dtype: DType, isa: VectorISA, _ operands: Operands) {
        (self.kind, self.rows, self.width, self.depth, self.operands) = (kind, rows, width, depth, operands)
        (lanes, registers) = (isa.floatLanes * 4 / dtype.byteWidth, isa.vectorRegisters)
    }

    /// Rows a forward or weight-gradient item covers, or a data-gradient pass reads at once. The forward and
    /// weight gradient keep 4 rows × `positionBlock` sums or × `vectorBlock` vectors in registers (a single
    /// position leaves room for eight rows' streams); the data gradient reads eight rows' vectors per vector of X.
    var rowBlock: Int { kind == .weight || (kind == .forward && width > 1) ? 4 : 8 }
    /// Positions a forward block sums at once: 4 × 4 accumulators in AVX-512's 32 registers, 4 × 2 in AVX2's 16.
    var positionBlock: Int { Swift.min(width, registers >= 32 ? 4 : 2) }
    /// Vectors of K a weight-gradient step writes per row (4 × 4 or 4 × 2 sums, as `positionBlock`): each
    /// position's vectors and gY broadcast feed 16 (8) FMAs. Measured (one thread, M = 512, K = 4096, P = 16):
    /// 0.54 ms against 0.77 ms for one vector of 8 rows, whose broadcasts are reloaded for every vector.
    var vectorBlock: Int { kind == .weight ? (registers >= 32 ? 4 : 2) : 1 }

    /// Parallel items: blocks of rows, or for the data gradient vectors of K (the last one the scalar rest).
    var items: Int { kind == .data ? (depth + lanes - 1) / lanes : (rows + rowBlock - 1) / rowBlock }

    /// Emits items lo ..< hi.
    func emit(_ e: KernelEmitter, _ lo: IRValue, _ hi: IRValue) {
        let vectors = depth / lanes, rest = depth % lanes
        switch kind {
        case .forward, .weight:
            let full = rows / rowBlock
            e.loop(lo, hi, vectorize: false, unroll: false) { block in
                let body = { (first: IRValue, count: Int) in
                    kind == .forward ? forwardRows(e, first, count) : weightRows(e, first, count)
                }
                guard rows % rowBlock > 0 else { return body(block * rowBlock, rowBlock) }
                e.ifThen(block.lessThan(e.index(full)), { body(block * rowBlock, rowBlock) },
                         else: { body(e.index(full * rowBlock), rows % rowBlock) })
            }
        case .data:
            dataSlice(e, from: lo * lanes, count: e.min(hi, e.index(vectors)) - lo, lanes: lanes)
            if rest > 0 {
                e.ifThen(hi.greaterThan(e.index(vectors))) { dataSlice(e, from: e.index(vectors * lanes), count: e.index(rest), lanes: 1) }
            }
        }
    }

    /// A run of K: `steps` steps of `vectors` vectors of `lanes` from `from`.
    typealias Piece = (lanes: Int, vectors: Int, from: Int, steps: Int)

    /// K in steps of `vectorBlock` vectors, the vectors left over one at a time, then the scalar rest; pieces
    /// with no steps left out.
    var pieces: [Piece] {
        let vectors = depth / lanes, blocked = vectors / vectorBlock * vectorBlock
        return [(lanes, vectorBlock, 0, vectors / vectorBlock), (lanes, 1, blocked * lanes, vectors - blocked),
                (1, 1, vectors * lanes, depth % lanes)].filter { $0.steps > 0 }
    }

    /// Rows first ..< first + count of Y, a block of positions at a time: the dot products over each piece of
    /// K (a vector's lanes summed before the scalar rest), stored to the positions.
    private func forwardRows(_ e: KernelEmitter, _ first: IRValue, _ count: Int) {
        let x = operands
        for p0 in stride(from: 0, to: width, by: positionBlock) {
            let positions = Array(p0..<Swift.min(width, p0 + positionBlock))
            var sums: [[IRValue]]? = nil
            for piece in pieces { sums = dots(e, first, count, positions, piece, initial: sums).map { $0.map(e.sum) } }
            for r in 0..<count {
                for (i, p) in positions.enumerated() {
                    e.store(sums?[r][i] ?? e.real(0, e.dtype(of: x.positions)), x.positions, x.positionsBase + (first + r) * width + p)
                }
            }
        }
    }

    /// count × positions sums of W[row, k] · X[p, k] over one piece of K, from `initial` (zeros when nil), every
    /// vector of W and X loaded once per step.
    private func dots(_ e: KernelEmitter, _ first: IRValue, _ count: Int, _ positions: [Int],
                      _ piece: Piece, initial: [[IRValue]]?) -> [[IRValue]] {
        let x = operands, lanes = piece.lanes
        let zero = e.splat(e.real(0, e.dtype(of: x.positions)), lanes: lanes)
        let sums = (0..<count).map { r in positions.indices.map { i in e.variable(initial?[r][i] ?? zero) } }
        e.loop(e.index(0), e.index(piece.steps), vectorize: false, unroll: false) { step in
            let k = step * lanes + piece.from
            let ws = (0..<count).map { r in e.loadVector(x.weights, x.weightsBase + (first + r) * depth + k, lanes: lanes) }
            let xs = positions.map { p in e.loadVector(x.columns, k + (x.columnsBase + p * x.columnStride), lanes: lanes) }
            for r in 0..<count {
                for i in positions.indices { sums[r][i].value = e.intrinsic("llvm.fma", [ws[r], xs[i], sums[r][i].value]) }
            }
        }
        return sums.map { $0.map(\.value) }
    }

    /// Rows first ..< first + count of dW, `vectors` vectors of K a step: sums Σ_p gY[row, p] · X[p, k] in
    /// registers, each vector of X loaded once for all the rows, each written once.
    private func weightRows(_ e: KernelEmitter, _ first: IRValue, _ count: Int) {
        let x = operands
        for piece in pieces {
            let (lanes, vectors) = (piece.lanes, piece.vectors)
            e.loop(e.index(0), e.index(piece.steps), vectorize: false, unroll: false) { step in
                let k = step * (lanes * vectors) + piece.from
                var sums = [[IRValue?]](repeating: Array(repeating: nil, count: vectors), count: count)
                for p in 0..<width {
                    let columns = (0..<vectors).map { v in e.loadVector(x.columns, k + (x.columnsBase + p * x.columnStride + v * lanes), lanes: lanes) }
                    for r in 0..<count {
                        let gy = e.splat(e.load(x.positions, x.positionsBase + (first + r) * width + p), lanes: lanes)
                        for v in 0..<vectors {
                            sums[r][v] = sums[r][v].map { e.intrinsic("llvm.fma", [columns[v], gy, $0]) } ?? columns[v] * gy
                        }
                    }
                }
                for r in 0..<count {
                    for v in 0..<vectors {
                        if let sum = sums[r][v] { e.storeVector(sum, x.weights, x.weightsBase + (first + r) * depth + k + v * lanes) }
                    }
                }
            }
        }
    }

    /// X[p, from ..< from + count·lanes] for every p: each block of `rowBlock` rows of W read once over the
    /// slice, its terms added to the slice's sums (the first block stores them: no zeroing pass). Measured
    /// (one thread, P = 16): faster than register tiles of X over all of W's rows, whose walk down W's columns
    /// the prefetchers do not follow, and than chunks of K small enough to keep X in L1.
    private func dataSlice(_ e: KernelEmitter, from: IRValue, count: IRValue, lanes: Int) {
        let x = operands
        let block = { (first: IRValue, rowCount: Int, isFirst: Bool) in
            // gY's broadcasts before the loop over K.
            let gy = (0..<rowCount).map { r in
                (0..<width).map { p in e.splat(e.load(x.positions, x.positionsBase + (first + r) * width + p), lanes: lanes) }
            }
            e.loop(e.index(0), count, vectorize: false, unroll: false) { step in
                let k = step * lanes + from
                let ws = (0..<rowCount).map { r in e.loadVector(x.weights, x.weightsBase + (first + r) * depth + k, lanes: lanes) }
                for p in 0..<width {
                    let at = k + (x.columnsBase + p * x.columnStride)
                    var sum: IRValue? = isFirst ? nil : e.loadVector(x.columns, at, lanes: lanes)
                    for r in 0..<rowCount { sum = sum.map { e.intrinsic("llvm.fma", [ws[r], gy[r][p], $0]) } ?? ws[r] * gy[r][p] }
                    if let sum { e.storeVector(sum, x.columns, at) }
                }
            }
        }
        let (full, rest) = (rows / rowBlock, rows % rowBlock)
        if full > 0 {
            block(e.index(0), rowBlock, true)
            if full > 1 {
                e.loop(e.index(1), e.index(full), vectorize: false, unroll: false) { b in block(b * rowBlock, rowBlock, false) }
            }
        }
        if rest > 0 { block(e.index(full * rowBlock), rest, full == 0) }
    }
}

extension FusedConvolution {
    /// One generated phase running `kind` for every family (`GatheredConvolution.hasSkinnyProducts`), the
    /// families' items side by side so the threads split them all. `combined` holds the combined weights (or
    /// their gradient).
    static func skinnyPhase(_ g: GatheredConvolution, _ kind: ConvolutionProduct, combined: Int, columns: Int, positions: Int,
                            dtype: DType) -> KernelPhase {
        let isa = ConvolutionTuning.current.isa
        let products = zip(g.families, ColumnLayout(g, dtype: dtype).families).filter { $0.0.taps > 0 }.map { family, place in
            SkinnyProduct(kind, rows: family.members.count * g.o, width: g.n * family.positions, depth: g.c * family.taps, dtype: dtype, isa: isa,
                          .init(weights: combined, weightsBase: family.tapOffset * g.o * g.c, columns: columns, columnsBase: place.base,
                                columnStride: place.pStride, positions: positions, positionsBase: family.positionOffset * g.o * g.n))
        }
        var starts: [Int] = [], items = 0
        for product in products { (starts, items) = (starts + [items], items + product.items) }
        let suffix = switch kind { case .forward: "_skinny"; case .data: "_skinny_data"; case .weight: "_skinny_weight" }
        var phase = KernelPhase(suffix: suffix, parallelCount: items) { e in
            for (product, start) in zip(products, starts) {
                // This call's share of the product's items.
                let lo = e.max(e.begin, e.index(start)) - start, hi = e.min(e.end, e.index(start + product.items)) - start
                e.ifThen(lo.lessThan(hi)) { product.emit(e, lo, hi) }
            }
        }
        phase.isProduct = true
        return phase
    }
}
