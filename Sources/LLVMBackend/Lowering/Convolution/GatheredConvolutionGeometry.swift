import GraphIR

/// How a fused convolution reads one spatial axis of its source tensor through the nearest upsampling and
/// the padding that were folded into it (DESIGN.md, decision 6): the source cell that output `o`'s tap `k`
/// reads, or −1 for a zero of either padding.
struct GatherAxis: Equatable {
    var source: Int
    var scale = 1
    var padMode = PadMode.zero
    var padBefore = 0, padAfter = 0
    /// The convolution's own zero padding and stride.
    var convPadBefore = 0, stride = 1
    var kernel: Int
    var outputs: Int

    func source(output o: Int, tap k: Int) -> Int {
        let upsampled = source * scale
        let z = o * stride + k - convPadBefore
        guard z >= 0 && z < upsampled + padBefore + padAfter else { return -1 }
        guard let p = padMode.sourceIndex(z - padBefore, size: upsampled) else { return -1 }
        return p / scale
    }
}

/// Output indices of one axis that share how their taps combine: `groups` partitions (some of) the taps, and
/// for every member every tap of a group reads one source cell (`sources[m][g]`, −1 for a zero); taps in
/// no group read zeros. An upsampled axis has a class per phase (×2, 5 taps: even outputs read 3 cells with
/// taps {0,1}, {2,3}, {4}), so the convolution does 3 taps' work per axis instead of 5 — the products of
/// nearest upsampling followed by a convolution, computed on the small image.
struct GatherAxisClass: Equatable {
    var groups: [[Int]]
    var outputs: [Int] = []
    var sources: [[Int]] = []
}

extension GatherAxis {
    /// What two axes fold into a convolution's reading of its source, for kernel names: `up2_`, the folded
    /// pad (`reflectp1_`), the convolution's own zero padding before the source (`cp1x1_`); "" for none.
    static func inputName(_ rows: GatherAxis, _ cols: GatherAxis) -> String {
        let up = rows.scale == 1 && cols.scale == 1 ? "" : "up\(KernelName.pair("", [rows.scale, cols.scale]))_"
        let folded = [rows.padBefore, cols.padBefore, rows.padAfter, cols.padAfter].allSatisfy { $0 == 0 } ? ""
            : "\(rows.padMode.rawValue)\(KernelName.pad([cols.padBefore, cols.padAfter, rows.padBefore, rows.padAfter]))_"
        let convPad = rows.convPadBefore == 0 && cols.convPadBefore == 0 ? "" : "cp\(rows.convPadBefore)x\(cols.convPadBefore)_"
        return up + folded + convPad
    }

    /// The classes of this axis. Without upsampling one class whose groups are the single taps (im2col with
    /// the padding in its indexing). With it, the most common tap groupings first, and each output joins
    /// the first class whose groups it satisfies, so only the borders that reflection or zeros make
    /// irregular get classes of their own.
    func classes() -> [GatherAxisClass] {
        let reads = (0..<outputs).map { o in (0..<kernel).map { source(output: o, tap: $0) } }
        if scale == 1 {
            var only = GatherAxisClass(groups: (0..<kernel).map { [$0] })
            for o in 0..<outputs { only.outputs.append(o); only.sources.append(reads[o]) }
            return [only]
        }
        // A grouping's taps by the cell they read, in order of their first tap; zeros belong to no group.
        func natural(_ r: [Int]) -> [[Int]] {
            var groups: [[Int]] = [], groupOf: [Int: Int] = [:]
            for (k, s) in r.enumerated() where s >= 0 {
                if let g = groupOf[s] { groups[g].append(k) } else { groupOf[s] = groups.count; groups.append([k]) }
            }
            return groups
        }
        func fits(_ r: [Int], _ groups: [[Int]]) -> [Int]? {
            var inGroup = [Bool](repeating: false, count: kernel)
            var cells: [Int] = []
            for group in groups {
                let cell = r[group[0]]
                guard group.allSatisfy({ r[$0] == cell }) else { return nil }
                group.forEach { inGroup[$0] = true }
                cells.append(cell)
            }
            return (0..<kernel).allSatisfy { inGroup[$0] || r[$0] < 0 } ? cells : nil
        }
        var count: [[[Int]]: Int] = [:], order: [[[Int]]] = []
        for r in reads {
            let key = natural(r)
            if count[key] == nil { order.append(key) }
            count[key, default: 0] += 1
        }
        order.sort { count[$0]! > count[$1]! }  // stable: ties keep their first appearance
        var classes: [GatherAxisClass] = []
        for key in order {
            for o in 0..<outputs where natural(reads[o]) == key {
                if let c = classes.firstIndex(where: { fits(reads[o], $0.groups) != nil }) {
                    classes[c].outputs.append(o)
                    classes[c].sources.append(fits(reads[o], classes[c].groups)!)
                } else {
                    classes.append(GatherAxisClass(groups: key, outputs: [o], sources: [fits(reads[o], key)!]))
                }
            }
        }
        for c in classes.indices {
            let order = classes[c].outputs.indices.sorted { classes[c].outputs[$0] < classes[c].outputs[$1] }
            classes[c].outputs = order.map { classes[c].outputs[$0] }
            classes[c].sources = order.map { classes[c].sources[$0] }
        }
        return classes
    }
}

/// A fused convolution's geometry: the source image, the two axes, and the 2-D classes (every pair of a row
/// class and a column class), each one GEMM over its output positions with its combined weights
/// `Wc[o, c, gy·|col groups| + gx] = Σ W[o, c, ky ∈ row group gy, kx ∈ col group gx]`.
struct GatheredConvolution {
    struct Class {
        let rows: GatherAxisClass, cols: GatherAxisClass
        /// Where its combined weights start in the combined-weights scratch, in units of O·C.
        let tapOffset: Int
        /// Where its columns start in the columns scratch, in units of C·N; its positions in the
        /// positions scratch, in units of N (O·N for the channel-major layout [O, N·positions] of each class).
        let columnOffset: Int, positionOffset: Int
        var taps: Int { rows.groups.count * cols.groups.count }
        var positions: Int { rows.outputs.count * cols.outputs.count }
        /// Whether some tap of some position reads a zero of the padding (the gather must test for it).
        var readsZeros: Bool { rows.sources.joined().contains(-1) || cols.sources.joined().contains(-1) }
    }

    let n, c, h, w, o, kh, kw, oh, ow: Int
    let rows: GatherAxis, cols: GatherAxis
    let classes: [Class]

    init(n: Int, c: Int, o: Int, rows: GatherAxis, cols: GatherAxis) {
        (self.n, self.c, self.o) = (n, c, o)
        (h, w, kh, kw, oh, ow) = (rows.source, cols.source, rows.kernel, cols.kernel, rows.outputs, cols.outputs)
        (self.rows, self.cols) = (rows, cols)
        var classes: [Class] = [], taps = 0, columns = 0, positions = 0
        for r in rows.classes() {
            for col in cols.classes() {
                classes.append(Class(rows: r, cols: col, tapOffset: taps, columnOffset: columns, positionOffset: positions))
                let (t, p) = (r.groups.count * col.groups.count, r.outputs.count * col.outputs.count)
                (taps, columns, positions) = (taps + t, columns + t * p, positions + p)
            }
        }
        self.classes = classes
    }

    /// One class whose groups are the single taps in order: its combined weights are the weights
    /// themselves ([O, C·kh·kw] either way), so no combining or uncombining pass is needed.
    var combinesIdentically: Bool {
        classes.count == 1 && classes[0].rows.groups == (0..<kh).map { [$0] } && classes[0].cols.groups == (0..<kw).map { [$0] }
    }

    /// Combined taps over all classes (the combined weights hold O·C·this many values).
    var combinedTaps: Int { classes.reduce(0) { $0 + $1.taps } }
    /// Every class's columns (C·taps × N·positions each) and positions (O × N·positions each), side by side
    /// so each pass covers all classes.
    var columnElements: Int { classes.reduce(0) { $0 + $1.taps * $1.positions } * c * n }
    var positionElements: Int { classes.reduce(0) { $0 + $1.positions } * o * n }
    /// Multiply-adds per output channel and sample, against kh·kw·C per output cell unfused.
    var multiplyAdds: Int { classes.reduce(0) { $0 + $1.taps * $1.positions } * c }

    var name: String {
        "\(GatherAxis.inputName(rows, cols))\(KernelName.pair("k", [kh, kw]))_\(KernelName.pair("s", [rows.stride, cols.stride]))_"
            + "\(KernelName.shape([n, c, h, w]))_to\(o)"
    }
}
