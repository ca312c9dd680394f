import GraphIR

/// 3×3 stride-1 convolutions (MUNIT's residual blocks) by Winograd's minimal filtering F(2×2, 3×3): each
/// 2×2 block of outputs (a tile) reads a 4×4 window of the padded input; transformed by constant matrices,
/// a tile's 36 multiply-adds per channel pair become 16, done as 16 GEMMs over (output channel × input
/// channel) × tiles:
///
///   U = G g Gᵀ (weights, 4×4 per channel pair)   V = Bᵀ d B (input windows)   M[k] = U[k] · V[k]   Y = Aᵀ M A
///
/// The gradients are the same linear maps transposed: dM = A dY Aᵀ (gy's tiles), dV[k] = U[k]ᵀ · dM[k] and
/// dd = B dV Bᵀ scattered back over the windows (gx), dU[k] = dM[k] · V[k]ᵀ and dg = Gᵀ dU G (gw). With
/// both gradients in one kernel (`conv2d_backward`), gy's transform is shared and dV overwrites V.
///
/// The input is read through per-axis source tables (padded coordinate → source cell, −1 for a zero), so a
/// pad that `fuse-conv-input` folded (reflect, replicate or zero) and the convolution's own zero padding
/// cost nothing; windows away from the borders read the image directly.
struct WinogradConvolution: Equatable {
    let n, c, o, h, w, oh, ow: Int
    /// The padding read through, for kernel names (`reflectp1_`, `cp1x1_`).
    let padding: String
    /// For each padded coordinate z < 2·tiles + 2 of an axis, the source row (column) it reads, −1 for a zero.
    let rowSource: [Int], colSource: [Int]

    var tilesH: Int { (oh + 1) / 2 }
    var tilesW: Int { (ow + 1) / 2 }
    /// Tiles over the batch: the GEMMs' width.
    var tiles: Int { n * tilesH * tilesW }
    var name: String { "winograd_\(padding)k3_s1_\(KernelName.shape([n, c, h, w]))_to\(o)" }

    /// Elements from transformed index k to k + 1 in a transformed buffer of `elements` values per k: one cache
    /// line of 16 floats more, so that the 16 planes a transform writes side by side do not all fall in one L1
    /// set (a power-of-two plane such as 256 × 256 floats would map them to the same set, more than its ways,
    /// and every store would miss).
    static func planeStride(_ elements: Int) -> Int { elements + 16 }
    /// The plane strides of the transformed weights [16, O, C], inputs [16, C, tiles] and outputs [16, O, tiles].
    var weightPlanes: Int { Self.planeStride(o * c) }
    var inputPlanes: Int { Self.planeStride(c * tiles) }
    var outputPlanes: Int { Self.planeStride(o * tiles) }

    /// A 3×3, stride-1 convolution reading its source through `rows` and `cols` (no upsampling), with enough
    /// channels (`minimumChannels`, in ConvolutionAlgorithm.swift) and tiles (`ConvolutionTuning`); nil otherwise.
    init?(n: Int, c: Int, o: Int, rows: GatherAxis, cols: GatherAxis) {
        guard [rows, cols].allSatisfy({ $0.kernel == 3 && $0.stride == 1 && $0.scale == 1 }),
              c >= Self.minimumChannels, o >= Self.minimumChannels,
              ((rows.outputs + 1) / 2) * ((cols.outputs + 1) / 2) >= ConvolutionTuning.current.winogradMinimumTiles
        else { return nil }
        (self.n, self.c, self.o, h, w, oh, ow) = (n, c, o, rows.source, cols.source, rows.outputs, cols.outputs)
        padding = GatherAxis.inputName(rows, cols)
        rowSource = (0..<(2 * ((oh + 1) / 2) + 2)).map { rows.source(output: $0, tap: 0) }
        colSource = (0..<(2 * ((ow + 1) / 2) + 2)).map { cols.source(output: $0, tap: 0) }
    }

    /// A plain convolution (its own zero padding only).
    init?(_ g: ConvGeometry) {
        func axis(_ size: Int, _ before: Int, _ stride: Int, _ kernel: Int, _ outputs: Int) -> GatherAxis {
            GatherAxis(source: size, convPadBefore: before, stride: stride, kernel: kernel, outputs: outputs)
        }
        self.init(n: g.n, c: g.c, o: g.o, rows: axis(g.h, g.pad[2], g.stride[0], g.kh, g.oh), cols: axis(g.w, g.pad[0], g.stride[1], g.kw, g.ow))
    }

    /// A `fuse-conv-input` chain without upsampling.
    init?(_ g: GatheredConvolution) { self.init(n: g.n, c: g.c, o: g.o, rows: g.rows, cols: g.cols) }

    // MARK: transforms

    static let bT: [[Double]] = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    static let g: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
    static let aT: [[Double]] = [[1, 1, 1, 0], [0, 1, -1, -1]]
    static func transposed<T>(_ m: [[T]]) -> [[T]] { m[0].indices.map { j in m.map { $0[j] } } }

    /// L · v for a small constant L, unrolled: zeros skipped, ±1 as additions and subtractions.
    static func multiply(_ l: [[Double]], _ v: [IRValue]) -> [IRValue] {
        l.map { row in
            var sum: IRValue?
            for (coefficient, x) in zip(row, v) where coefficient != 0 {
                if let s = sum {
                    sum = coefficient == 1 ? s + x : coefficient == -1 ? s - x : s + x * coefficient
                } else {
                    sum = coefficient == 1 ? x : coefficient == -1 ? -x : x * coefficient
                }
            }
            return sum!
        }
    }

    /// L · X · Lᵀ.
    static func sandwich(_ l: [[Double]], _ x: [[IRValue]]) -> [[IRValue]] {
        let left = transposed(transposed(x).map { multiply(l, $0) })  // L · X, column by column
        return left.map { multiply(l, $0) }  // (L · X) · Lᵀ
    }

    /// Tile columns [lo, hi) whose four window columns are all inside the source at `first + 2·tx + j`.
    static func interior(_ source: [Int], tiles: Int) -> (lo: Int, hi: Int, first: Int) {
        guard let offset = (0..<tiles).lazy.compactMap({ t -> Int? in
            let cells = (0..<4).map { source[2 * t + $0] }
            return cells.allSatisfy { $0 >= 0 } && zip(cells, cells.dropFirst()).allSatisfy { $1 == $0 + 1 } ? cells[0] - 2 * t : nil
        }).first else { return (0, 0, 0) }
        // (A zero's −1 must not pass for cell −1 of an offset of −1.)
        let fits = (0..<tiles).map { t in (0..<4).allSatisfy { source[2 * t + $0] >= 0 && source[2 * t + $0] == offset + 2 * t + $0 } }
        guard let lo = fits.firstIndex(of: true) else { return (0, 0, 0) }
        var hi = lo
        while hi < tiles && fits[hi] { hi += 1 }
        return (lo, hi, offset)
    }

    /// Visits every tile of source plane `plane` (sample `sample`): `body(tile index, window cell)` where
    /// `cell(i, j)` is the source cell of window position (i, j) and whether it is inside (else a zero).
    func forEachWindow(_ e: KernelEmitter, plane: IRValue, sample: IRValue, _ body: (IRValue, (Int, Int) -> (IRValue, IRValue?)) -> Void) {
        let rows = e.ir.constantTable(rowSource), cols = e.ir.constantTable(colSource)
        let (lo, hi, first) = Self.interior(colSource, tiles: tilesW)
        let origin = e.index(0), planeBase = plane * (h * w)
        e.loop(tilesH) { ty in
            let rowCells = (0..<4).map { i in e.lookup(rows, ty * 2 + i) }
            let rowBases = rowCells.map { planeBase + e.max($0, origin) * w }
            let rowValid = rowCells.map { $0.greaterEqual(origin) }
            let tileBase = (sample * tilesH + ty) * tilesW
            // Border windows through the column table; the interior run directly.
            let tabled = { (tx: IRValue) in
                let colCells = (0..<4).map { j in e.lookup(cols, tx * 2 + j) }
                body(tileBase + tx) { i, j in
                    (rowBases[i] + e.max(colCells[j], origin), rowValid[i].and(colCells[j].greaterEqual(origin)))
                }
            }
            e.loop(e.index(0), e.index(lo), vectorize: false, tabled)
            e.loop(lo, hi) { tx in
                body(tileBase + tx) { i, j in (rowBases[i] + tx * 2 + (first + j), rowValid[i]) }
            }
            e.loop(e.index(hi), e.index(tilesW), vectorize: false, tabled)
        }
    }

    // MARK: phases

    /// U[a·4 + b, O·C] = G g Gᵀ with explicit vectors of `ConvolutionTuning.vectorLanes` input channels:
    /// each pair's 9 taps gathered (stride 9), the whole G g Gᵀ in registers, 16 contiguous vector stores,
    /// parallel over O. One pass over the weights instead of two through H: on AVX-512, whose gathers are
    /// cheap, 2× faster than the two-pass form on MUNIT's 256 × 256 weights.
    func gatheredWeightTransformPhase(weight: Int, into u: Int) -> KernelPhase {
        let lanes = ConvolutionTuning.current.vectorLanes
        return KernelPhase(suffix: "_wtransform", parallelCount: o) { e in
            func transform(_ oc: IRValue, _ firstChannel: IRValue, lanes: Int) {
                let base = (oc * c + firstChannel) * 9
                let steps = (0..<lanes).map { $0 * 9 }
                let taps = (0..<3).map { ky in (0..<3).map { kx in e.gather(weight, base + (ky * 3 + kx), steps: steps) } }
                let values = Self.sandwich(Self.g, taps)
                for k in 0..<16 { e.storeVector(values[k / 4][k % 4], u, e.index(k * weightPlanes) + oc * c + firstChannel) }
            }
            e.loop(e.begin, e.end) { oc in
                let vectorChannels = c / lanes * lanes
                if vectorChannels > 0 {
                    e.loop(e.index(0), e.index(c / lanes), vectorize: false, unroll: false) { block in transform(oc, block * lanes, lanes: lanes) }
                }
                if vectorChannels < c {
                    e.loop(e.index(vectorChannels), e.index(c), vectorize: false) { ci in transform(oc, ci, lanes: 1) }
                }
            }
        }
    }

    /// U[a·4 + b, O·C] = G g Gᵀ, in two passes parallel over O so that every loop vectorises (per channel
    /// pair, 9 loads at stride 9 would not): first each kernel row's 3 taps → 4 values into H[a, O·C·3]
    /// (interleaved loads of 3), then each pair's 3 rows → 4 values per a (interleaved loads of 3 again).
    /// Gathered instead where the tuning says gathers are cheap.
    func weightTransformPhase(weight: Int, into u: Int, through h: Int) -> KernelPhase {
        if ConvolutionTuning.current.gathers { return gatheredWeightTransformPhase(weight: weight, into: u) }
        return KernelPhase(suffix: "_wtransform", parallelCount: o) { e in
            let rows = o * c * 3
            e.loop(e.begin, e.end) { oc in
                e.loop(c * 3) { r in
                    let row = oc * (c * 3) + r
                    // Along kx: the column index b.
                    let values = Self.multiply(Self.g, (0..<3).map { e.load(weight, row * 3 + $0) })
                    for b in 0..<4 { e.store(values[b], h, row + b * rows) }
                }
                e.loop(c) { ci in
                    let pair = oc * c + ci
                    for b in 0..<4 {
                        // Along ky: the row index a.
                        let values = Self.multiply(Self.g, (0..<3).map { e.load(h, b * rows + pair * 3 + $0) })
                        for a in 0..<4 { e.store(values[a], u, (a * 4 + b) * weightPlanes + pair) }
                    }
                }
            }
        }
    }

    /// gw = Gᵀ dU G, the same two passes reversed.
    func weightGradientPhase(_ du: Int, into gw: Int, through h: Int, suffix: String) -> KernelPhase {
        let gT = Self.transposed(Self.g)
        return KernelPhase(suffix: suffix, parallelCount: o) { e in
            let rows = o * c * 3
            e.loop(e.begin, e.end) { oc in
                e.loop(c) { ci in
                    let pair = oc * c + ci
                    for b in 0..<4 {
                        // Along the row index a: ky.
                        let values = Self.multiply(gT, (0..<4).map { e.load(du, ($0 * 4 + b) * weightPlanes + pair) })
                        for ky in 0..<3 { e.store(values[ky], h, b * rows + pair * 3 + ky) }
                    }
                }
                e.loop(c * 3) { r in
                    let row = oc * (c * 3) + r
                    // Along the column index b: kx.
                    let values = Self.multiply(gT, (0..<4).map { e.load(h, $0 * rows + row) })
                    for kx in 0..<3 { e.store(values[kx], gw, row * 3 + kx) }
                }
            }
        }
    }

    /// Element (k, channel, t) of a transformed buffer [16, channels, tiles], or [16, tiles, channels]
    /// (`channelsLast`: the V that a generated weight product reads, whose rows along the channels it needs
    /// contiguous, and which a gathered input transform writes as whole vectors of channels).
    func transformed(_ k: Int, channels: Int, _ channel: IRValue, _ t: IRValue, channelsLast: Bool = false) -> IRValue {
        k * Self.planeStride(channels * tiles) + (channelsLast ? t * channels + channel : channel * tiles + t)
    }

    /// A window's or tile's cell: its value, or zero where `cell` says it lies outside.
    static func load(_ e: KernelEmitter, _ buffer: Int, _ cell: (IRValue, IRValue?), zero: IRValue) -> IRValue {
        let (index, inside) = cell
        return inside.map { e.select($0, e.load(buffer, index), zero) } ?? e.load(buffer, index)
    }

    /// V[k, C, tiles] = Bᵀ d B of every input window, parallel over N·C (scalar: with the planes padded
    /// (`planeStride`) as fast as vectors of tiles gathered across a row, 25 against 23 ms per 64×64 iteration
    /// on the Xeon, and no gathers, which Zen 3 and Intel's Downfall-mitigated cores run slowly); with vectors
    /// of channels for a channels-last V where gathers are cheap.
    func inputTransformPhase(x: Int, into v: Int, dtype: DType, channelsLast: Bool = false) -> KernelPhase {
        if channelsLast && ConvolutionTuning.current.gathers { return gatheredInputTransformPhase(x: x, into: v, dtype: dtype) }
        return KernelPhase(suffix: "_xtransform", parallelCount: n * c) { e in
            let zero = e.real(0, dtype)
            e.loop(e.begin, e.end) { plane in
                let ci = plane % c
                forEachWindow(e, plane: plane, sample: plane / c) { t, cell in
                    let d = (0..<4).map { i in (0..<4).map { j in Self.load(e, x, cell(i, j), zero: zero) } }
                    let v4 = Self.sandwich(Self.bT, d)
                    for k in 0..<16 { e.store(v4[k / 4][k % 4], v, transformed(k, channels: c, ci, t, channelsLast: channelsLast)) }
                }
            }
        }
    }

    /// V = Bᵀ d B with vectors of channels, for the channels-last V of generated weight products where gathers are
    /// cheap: each window cell gathered across `ConvolutionTuning.vectorLanes` channel planes, 16 contiguous
    /// vector stores per tile; parallel over (sample, channel block), a last partial block channel by channel.
    func gatheredInputTransformPhase(x: Int, into v: Int, dtype: DType) -> KernelPhase {
        let lanes = ConvolutionTuning.current.vectorLanes
        let blocks = (c + lanes - 1) / lanes
        return KernelPhase(suffix: "_xtransform", parallelCount: n * blocks) { e in
            e.loop(e.begin, e.end) { item in
                let sample = item / blocks, first = item % blocks * lanes
                func transform(_ channel: IRValue, lanes: Int) {
                    let zero = e.splat(e.real(0, dtype), lanes: lanes), steps = (0..<lanes).map { $0 * (h * w) }
                    forEachWindow(e, plane: sample * c + channel, sample: sample) { t, cell in
                        // Cells outside read a clamped, in-bounds index and are replaced by zero.
                        let d = (0..<4).map { i in (0..<4).map { j -> IRValue in
                            let (index, inside) = cell(i, j)
                            let value = e.gather(x, index, steps: steps)
                            return inside.map { e.select($0, value, zero) } ?? value
                        } }
                        let v4 = Self.sandwich(Self.bT, d)
                        for k in 0..<16 { e.storeVector(v4[k / 4][k % 4], v, transformed(k, channels: c, channel, t, channelsLast: true)) }
                    }
                }
                if c % lanes == 0 {
                    transform(first, lanes: lanes)
                } else {
                    e.ifThen((item % blocks).equal(e.index(blocks - 1))) {
                        e.loop(first, e.index(c), vectorize: false) { channel in transform(channel, lanes: 1) }
                    } else: {
                        transform(first, lanes: lanes)
                    }
                }
            }
        }
    }

    /// gx (zeroed first) += B dV Bᵀ of every window, added onto the cells it read, parallel over N·C (a thread
    /// owns its planes, so the overlapping windows never race).
    func inputGradientPhase(_ dv: Int, into gx: Int, dtype: DType) -> KernelPhase {
        KernelPhase(suffix: "", parallelCount: n * c) { e in
            let zero = e.real(0, dtype)
            e.loop(e.begin, e.end) { plane in
                let ci = plane % c
                e.loop(h * w, { i in e.store(zero, gx, plane * (h * w) + i) })
                forEachWindow(e, plane: plane, sample: plane / c) { t, cell in
                    let values = (0..<4).map { a in (0..<4).map { b in e.load(dv, transformed(a * 4 + b, channels: c, ci, t)) } }
                    let dd = Self.sandwich(Self.transposed(Self.bT), values)
                    for i in 0..<4 {
                        for j in 0..<4 {
                            let (index, valid) = cell(i, j)
                            if let valid { e.ifThen(valid) { e.accumulate(dd[i][j], gx, index) } } else { e.accumulate(dd[i][j], gx, index) }
                        }
                    }
                }
            }
        }
    }

    /// Calls `body(tile, output index of (i, j) or nil outside)` for every tile of output plane `plane`.
    func forEachOutputTile(_ e: KernelEmitter, plane: IRValue, sample: IRValue, _ body: (IRValue, (Int, Int) -> (IRValue, IRValue?)) -> Void) {
        let planeBase = plane * (oh * ow)
        e.loop(tilesH) { ty in
            e.loop(tilesW) { tx in
                body((sample * tilesH + ty) * tilesW + tx) { i, j in
                    let (row, col) = (ty * 2 + i, tx * 2 + j)
                    // Only an odd size leaves a half tile, on its last row or column.
                    let rowInside = oh % 2 == 1 && i == 1 ? row.lessThan(e.index(oh)) : nil
                    let colInside = ow % 2 == 1 && j == 1 ? col.lessThan(e.index(ow)) : nil
                    var inside = rowInside
                    if let colInside { inside = inside.map { $0.and(colInside) } ?? colInside }
                    return (planeBase + e.min(row, e.index(oh - 1)) * ow + e.min(col, e.index(ow - 1)), inside)
                }
            }
        }
    }

    /// y = Aᵀ M A (+ bias) of every tile, parallel over N·O planes (so a fused epilogue can follow each plane).
    func outputPhase(_ m: Int, into y: Int, bias: Int?) -> KernelPhase {
        KernelPhase(suffix: "", parallelCount: n * o, storesEachPlaneOnce: true) { e in
            e.loop(e.begin, e.end) { plane in
                let oc = plane % o
                let shift = bias.map { e.load($0, oc) }
                forEachOutputTile(e, plane: plane, sample: plane / o) { t, cell in
                    let values = (0..<4).map { a in (0..<4).map { b in e.load(m, transformed(a * 4 + b, channels: o, oc, t)) } }
                    let out = Self.sandwich(Self.aT, values)
                    for i in 0..<2 {
                        for j in 0..<2 {
                            let (index, inside) = cell(i, j)
                            let value = shift.map { out[i][j] + $0 } ?? out[i][j]
                            if let inside { e.ifThen(inside) { e.store(value, y, index) } } else { e.store(value, y, index) }
                        }
                    }
                }
            }
        }
    }

    /// dM[k, O, tiles] = A dY Aᵀ of gy's tiles (zeros past an odd edge), parallel over N·O.
    func gyTransformPhase(gy: Int, into dm: Int, dtype: DType) -> KernelPhase {
        KernelPhase(suffix: "_gytransform", parallelCount: n * o) { e in
            let zero = e.real(0, dtype)
            e.loop(e.begin, e.end) { plane in
                let oc = plane % o
                forEachOutputTile(e, plane: plane, sample: plane / o) { t, cell in
                    let dy = (0..<2).map { i in (0..<2).map { j in Self.load(e, gy, cell(i, j), zero: zero) } }
                    let values = Self.sandwich(Self.transposed(Self.aT), dy)
                    for k in 0..<16 { e.store(values[k / 4][k % 4], dm, transformed(k, channels: o, oc, t)) }
                }
            }
        }
    }

    /// One of the 16 products: forward M = U·V, data dV = Uᵀ·dM, weight dU = dM·Vᵀ.
    func emitProduct(_ e: KernelEmitter, _ product: ConvolutionProduct, dtype: DType, k: Int, u: Int, v: Int, m: Int) {
        let (uk, vk, mk) = (e.pointer(u, offset: e.index(k * weightPlanes)), e.pointer(v, offset: e.index(k * inputPlanes)),
                            e.pointer(m, offset: e.index(k * outputPlanes)))
        let zero = e.real(0, dtype)
        switch product {
        case .forward:
            e.gemm(dtype, transA: false, transB: false, m: o, n: tiles, k: c, a: uk, lda: c, b: vk, ldb: tiles, beta: zero, c: mk, ldc: tiles)
        case .data:
            e.gemm(dtype, transA: true, transB: false, m: c, n: tiles, k: o, a: uk, lda: c, b: mk, ldb: tiles, beta: zero, c: vk, ldc: tiles)
        case .weight:
            e.gemm(dtype, transA: false, transB: true, m: o, n: c, k: tiles, a: mk, lda: tiles, b: vk, ldb: tiles, beta: zero, c: uk, ldc: c)
        }
    }

    /// Whether the products run as generated register-blocked kernels (narrow products:
    /// `ConvolutionTuning.generatedProductsBelowTiles`) instead of BLAS calls.
    var generatesProducts: Bool { tiles < ConvolutionTuning.current.generatedProductsBelowTiles }

    /// The 16 products of one kind: BLAS calls (one phase), or generated blocks parallel over (product,
    /// column block). Generated, every operand is read along contiguous rows: U[o, c], V[c, tiles] (forward),
    /// dM[o, tiles], and for the weight product, which contracts over the tiles, a channels-last V[tiles, c].
    func productPhase(_ product: ConvolutionProduct, dtype: DType, u: Int, v: Int, m: Int) -> KernelPhase {
        guard generatesProducts else {
            return KernelPhase(suffix: "_gemm", parallelCount: 1, usesBLAS: true) { e in
                for k in 0..<16 { emitProduct(e, product, dtype: dtype, k: k, u: u, v: v, m: m) }
            }
        }
        let lanes = ConvolutionTuning.current.vectorLanes
        let (o, c, tiles) = (o, c, tiles), (uPlanes, vPlanes, mPlanes) = (weightPlanes, inputPlanes, outputPlanes)
        let kernel: RegisterBlockedProduct
        let operands: (IRValue) -> RegisterBlockedProduct.Operands
        switch product {
        case .forward:
            // M[o, tiles] = U[o, c] · V[c, tiles].
            kernel = RegisterBlockedProduct(m: o, n: tiles, k: c, lanes: lanes)
            operands = { k in .init(a: u, aBase: k * uPlanes, aRowStride: c, aDepthStride: 1,
                                    b: v, bBase: k * vPlanes, ldb: tiles, c: m, cBase: k * mPlanes, ldc: tiles) }
        case .data:
            // dV[c, tiles] = U[o, c]ᵀ · dM[o, tiles].
            kernel = RegisterBlockedProduct(m: c, n: tiles, k: o, lanes: lanes)
            operands = { k in .init(a: u, aBase: k * uPlanes, aRowStride: 1, aDepthStride: c,
                                    b: m, bBase: k * mPlanes, ldb: tiles, c: v, cBase: k * vPlanes, ldc: tiles) }
        case .weight:
            // dU[o, c] = dM[o, tiles] · V[tiles, c] (channels last).
            kernel = RegisterBlockedProduct(m: o, n: c, k: tiles, lanes: lanes)
            operands = { k in .init(a: m, aBase: k * mPlanes, aRowStride: tiles, aDepthStride: 1,
                                    b: v, bBase: k * vPlanes, ldb: c, c: u, cBase: k * uPlanes, ldc: c) }
        }
        let blocks = kernel.columnBlocks
        var phase = KernelPhase(suffix: product == .weight ? "_wproduct" : "_product", parallelCount: 16 * blocks) { e in
            e.loop(e.begin, e.end) { item in
                kernel.emitColumnBlock(e, item % blocks, operands(item / blocks), dtype: dtype)
            }
        }
        phase.isProduct = true
        return phase
    }

    /// Scratch shapes: transformed weights (or their gradient) [16, O, C], transformed inputs [16, C, tiles],
    /// transformed outputs (or gy) [16, O, tiles], each plane padded by a cache line (`planeStride`), and the
    /// two-pass weight transforms' half-way values [4, O, C, 3] (one element where no phase of the kernel uses
    /// them: a gathered weight transform and no weight gradient).
    func scratch(_ dtype: DType, weightGradient: Bool) -> (weights: TensorType, inputs: TensorType, outputs: TensorType, halves: TensorType) {
        let halves = weightGradient || !ConvolutionTuning.current.gathers ? [4, o, c, 3] : [1]
        return (TensorType(dtype, [16 * weightPlanes]), TensorType(dtype, [16 * inputPlanes]), TensorType(dtype, [16 * outputPlanes]),
                TensorType(dtype, halves))
    }

    // MARK: plans

    /// Buffers x, w, [bias], y; scratch U, V, M, H.
    func forward(dtype: DType, hasBias: Bool) -> KernelPlan {
        let y = hasBias ? 3 : 2, (u, v, m, h) = (y + 1, y + 2, y + 3, y + 4)
        let s = scratch(dtype, weightGradient: false)
        return KernelPlan(name: "conv2d_\(name)", scratch: [s.weights, s.inputs, s.outputs, s.halves], phases: [
            weightTransformPhase(weight: 1, into: u, through: h), inputTransformPhase(x: 0, into: v, dtype: dtype),
            productPhase(.forward, dtype: dtype, u: u, v: v, m: m), outputPhase(m, into: y, bias: hasBias ? 2 : nil),
        ])
    }

    /// Buffers gy, w, gx; scratch U, dV, dM, H.
    func backwardInput(dtype: DType) -> KernelPlan {
        let (u, dv, dm, h) = (3, 4, 5, 6)
        let s = scratch(dtype, weightGradient: false)
        return KernelPlan(name: "conv2d_backward_input_\(name)", scratch: [s.weights, s.inputs, s.outputs, s.halves], phases: [
            weightTransformPhase(weight: 1, into: u, through: h), gyTransformPhase(gy: 0, into: dm, dtype: dtype),
            productPhase(.data, dtype: dtype, u: u, v: dv, m: dm), inputGradientPhase(dv, into: 2, dtype: dtype),
        ])
    }

    /// Buffers x, gy, gw; scratch dU, V, dM, H.
    func backwardWeight(dtype: DType) -> KernelPlan {
        let (du, v, dm, h) = (3, 4, 5, 6)
        let s = scratch(dtype, weightGradient: true)
        return KernelPlan(name: "conv2d_backward_weight_\(name)", scratch: [s.weights, s.inputs, s.outputs, s.halves], phases: [
            inputTransformPhase(x: 0, into: v, dtype: dtype, channelsLast: generatesProducts), gyTransformPhase(gy: 1, into: dm, dtype: dtype),
            productPhase(.weight, dtype: dtype, u: du, v: v, m: dm), weightGradientPhase(du, into: 2, through: h, suffix: ""),
        ])
    }

    /// Both gradients (a `conv2d_backward` node; buffers gy, w, x, gx, gw; scratch U, V, dM, dU, H): gy's
    /// transform shared; dV overwrites V once every dU has read it.
    func backward(dtype: DType) -> KernelPlan {
        let (gy, weight, x, gx, gw) = (0, 1, 2, 3, 4), (u, v, dm, du, h) = (5, 6, 7, 8, 9)
        // All weight products before the data products overwrite V.
        let products = generatesProducts
            ? [productPhase(.weight, dtype: dtype, u: du, v: v, m: dm), productPhase(.data, dtype: dtype, u: u, v: v, m: dm)]
            : [KernelPhase(suffix: "_gemm", parallelCount: 1, usesBLAS: true) { e in
                for k in 0..<16 { emitProduct(e, .weight, dtype: dtype, k: k, u: du, v: v, m: dm) }
                for k in 0..<16 { emitProduct(e, .data, dtype: dtype, k: k, u: u, v: v, m: dm) }
            }]
        let s = scratch(dtype, weightGradient: true)
        return KernelPlan(name: "conv2d_backward_\(name)", scratch: [s.weights, s.inputs, s.outputs, s.weights, s.halves], phases: [
            weightTransformPhase(weight: weight, into: u, through: h), inputTransformPhase(x: x, into: v, dtype: dtype, channelsLast: generatesProducts),
            gyTransformPhase(gy: gy, into: dm, dtype: dtype)] + products + [
            weightGradientPhase(du, into: gw, through: h, suffix: "_wgrad"), inputGradientPhase(v, into: gx, dtype: dtype),
        ])
    }
}
