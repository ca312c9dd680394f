import GraphIR

/// Winograd's transforms into the channels-first buffers the forward products read (V[k, C, tiles] from the
/// input, dM[k, O, tiles] from gy) with vectors of tiles along a row, where gathers are cheap
/// (`ConvolutionTuning.gathers`): each window cell of `lanes` neighbouring tiles is one gather (tiles step 2
/// cells, and the borders' reflected or zero cells come from the same constant column tables), and the 16
/// transformed values of those tiles are 16 contiguous vector stores. Scalar, a tile costs ~16 loads, 16 stores
/// and the sandwich's arithmetic one lane at a time.
extension WinogradConvolution {
    /// Calls `body(first tile, lanes, window)` for every run of up to `lanes` tiles along each tile row of
    /// `plane`, `window[i][j]` the vector of cell (i, j) of those tiles' windows (zero outside). The source plane
    /// is `rows`×`cols` cells; `rowSource`/`colSource` map a window coordinate (2·tile + i) to its cell, −1 for zero.
    func forEachWindowVector(_ e: KernelEmitter, _ buffer: Int, plane: IRValue, sample: IRValue, window: Int, dtype: DType,
                             rows: Int, cols: Int, rowSource: [Int], colSource: [Int],
                             _ body: (IRValue, Int, [[IRValue]]) -> Void) {
        let lanes = ConvolutionTuning.current.vectorLanes
        let rowTable = e.ir.constantTable(rowSource), origin = e.index(0), planeBase = plane * (rows * cols)
        e.loop(e.index(0), e.index(tilesH), vectorize: false) { ty in
            let rowCells = (0..<window).map { i in e.lookup(rowTable, ty * 2 + i) }
            let rowBases = rowCells.map { planeBase + e.max($0, origin) * cols }
            let rowInside = rowCells.map { $0.greaterEqual(origin) }
            let rowsReadZeros = rowSource.contains(-1)
            for first in stride(from: 0, to: tilesW, by: lanes) {
                let count = min(lanes, tilesW - first), zero = e.splat(e.real(0, dtype), lanes: count)
                let values = (0..<window).map { i in (0..<window).map { j -> IRValue in
                    let cells = (0..<count).map { colSource[2 * (first + $0) + j] }
                    // A zero's lane reads the row's first cell (in bounds) and is blended out.
                    let value = e.keepingLanes(cells.map { $0 >= 0 }, of: e.gather(buffer, rowBases[i], steps: cells.map { max($0, 0) }), else: zero)
                    return rowsReadZeros ? e.select(rowInside[i], value, zero) : value
                } }
                body((sample * tilesH + ty) * tilesW + e.index(first), count, values)
            }
        }
    }

    /// V[k, C, tiles] = Bᵀ d B with vectors of tiles (see the type's note), parallel over N·C.
    func vectorInputTransformPhase(x: Int, into v: Int, dtype: DType) -> KernelPhase {
        KernelPhase(suffix: "_xtransform", parallelCount: n * c) { e in
            e.loop(e.begin, e.end) { plane in
                let ci = plane % c
                forEachWindowVector(e, x, plane: plane, sample: plane / c, window: 4, dtype: dtype, rows: h, cols: w,
                                    rowSource: rowSource, colSource: colSource) { t, _, d in
                    let v4 = Self.sandwich(Self.bT, d)
                    for k in 0..<16 { e.storeVector(v4[k / 4][k % 4], v, transformed(k, channels: c, ci, t)) }
                }
            }
        }
    }

    /// dM[k, O, tiles] = A dY Aᵀ with vectors of tiles (zeros past an odd edge), parallel over N·O.
    func vectorGyTransformPhase(gy: Int, into dm: Int, dtype: DType) -> KernelPhase {
        let inside = { (size: Int, tiles: Int) in (0..<(2 * tiles)).map { $0 < size ? $0 : -1 } }
        return KernelPhase(suffix: "_gytransform", parallelCount: n * o) { e in
            e.loop(e.begin, e.end) { plane in
                let oc = plane % o
                forEachWindowVector(e, gy, plane: plane, sample: plane / o, window: 2, dtype: dtype, rows: oh, cols: ow,
                                    rowSource: inside(oh, tilesH), colSource: inside(ow, tilesW)) { t, _, dy in
                    let values = Self.sandwich(Self.transposed(Self.aT), dy)
                    for k in 0..<16 { e.storeVector(values[k / 4][k % 4], dm, transformed(k, channels: o, oc, t)) }
                }
            }
        }
    }
}
