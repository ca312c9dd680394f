import GraphIR

/// A small matrix product generated for the host's vector width instead of a BLAS call:
/// C[m × n] = Σₖ A(i, k) · B[k, n], with B and C row-major and A read through two strides (so Aᵀ costs
/// nothing). Each block of `rows` × (`vectors` · lanes) results lives in registers for the whole k loop
/// (one broadcast of A and `vectors` loads of B per k and row set), the shape of a BLAS microkernel.
///
/// Why: Winograd's 16 products on MUNIT's 16×16 residual planes are only 64 columns wide; OpenBLAS packs
/// and threads each of them as if it were large and reaches about half the rate it gets on wide products,
/// while these blocks, split over the runtime's threads by (product, column block), need no packing at all
/// (`benchmarks/gemm_shapes.c` shapes; numbers in docs/GEMM.md).
struct RegisterBlockedProduct {
    let m, n, k: Int
    /// float lanes per vector: 16 for AVX-512 code, 8 for AVX2.
    let lanes: Int

    /// Rows per block. With `vectors` = 4 (32 vector registers) 24 accumulators, 4 B vectors and one
    /// broadcast fill AVX-512's register file; AVX2's 16 registers take 6 × 2.
    static let rows = 6
    var vectors: Int { lanes >= 16 ? 4 : 2 }
    var width: Int { vectors * lanes }
    /// Column blocks of `width` columns, the last one holding whatever is left (fewer vectors, then single
    /// columns) when `width` does not divide n.
    var columnBlocks: Int { (n + width - 1) / width }

    /// Where the operands are: element offsets (run-time values, e.g. the product's index times its size)
    /// and strides in elements.
    struct Operands {
        var a: Int, aBase: IRValue, aRowStride: Int, aDepthStride: Int
        var b: Int, bBase: IRValue, ldb: Int
        var c: Int, cBase: IRValue, ldc: Int
    }

    /// Emits every row of column block `block` (a run-time value in 0 ..< columnBlocks). Rows innermost, so
    /// the block's slice of B (depth × width) stays in cache while A streams past it.
    func emitColumnBlock(_ e: KernelEmitter, _ block: IRValue, _ x: Operands, dtype: DType) {
        let fullBlocks = n / width
        guard fullBlocks < columnBlocks else { return emitAllRows(e, column: block * width, vectors: vectors, lanes: lanes, x, dtype: dtype) }
        e.ifThen(block.lessThan(e.index(fullBlocks))) {
            emitAllRows(e, column: block * width, vectors: vectors, lanes: lanes, x, dtype: dtype)
        } else: {
            let first = fullBlocks * width, leftVectors = (n - first) / lanes, tail = first + leftVectors * lanes
            if leftVectors > 0 { emitAllRows(e, column: e.index(first), vectors: leftVectors, lanes: lanes, x, dtype: dtype) }
            if tail < n {
                e.loop(e.index(tail), e.index(n), vectorize: false, unroll: false) { column in
                    emitAllRows(e, column: column, vectors: 1, lanes: 1, x, dtype: dtype)
                }
            }
        }
    }

    /// Tiles of `rows` rows down the whole of m at one column.
    private func emitAllRows(_ e: KernelEmitter, column: IRValue, vectors: Int, lanes: Int, _ x: Operands, dtype: DType) {
        let fullRows = m / Self.rows
        if fullRows > 0 {
            e.loop(e.index(0), e.index(fullRows), vectorize: false, unroll: false) { block in
                emitTile(e, block * Self.rows, rows: Self.rows, column, vectors: vectors, lanes: lanes, x, dtype: dtype)
            }
        }
        if m % Self.rows > 0 {
            emitTile(e, e.index(fullRows * Self.rows), rows: m % Self.rows, column, vectors: vectors, lanes: lanes, x, dtype: dtype)
        }
    }

    /// One register tile: rows × (vectors · lanes) sums over the whole depth (lanes 1: scalars).
    private func emitTile(_ e: KernelEmitter, _ firstRow: IRValue, rows: Int, _ column: IRValue, vectors: Int, lanes: Int,
                          _ x: Operands, dtype: DType) {
        let zero = e.splat(e.real(0, dtype), lanes: lanes)
        let sums = (0..<rows).map { _ in (0..<vectors).map { _ in e.variable(zero) } }
        e.loop(e.index(0), e.index(k), vectorize: false, unroll: false) { depth in
            let bRow = x.bBase + depth * x.ldb + column
            let bs = (0..<vectors).map { v in e.loadVector(x.b, bRow + v * lanes, lanes: lanes) }
            for r in 0..<rows {
                let a = e.load(x.a, x.aBase + (firstRow + r) * x.aRowStride + depth * x.aDepthStride)
                let broadcast = e.splat(a, lanes: lanes)
                for v in 0..<vectors {
                    sums[r][v].value = e.intrinsic("llvm.fma", [broadcast, bs[v], sums[r][v].value])
                }
            }
        }
        for r in 0..<rows {
            for v in 0..<vectors {
                e.storeVector(sums[r][v].value, x.c, x.cBase + (firstRow + r) * x.ldc + column + v * lanes)
            }
        }
    }
}
