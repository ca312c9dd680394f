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
/// class and a column class) with combined weights
/// `Wc[o, c, gy·|col groups| + gx] = Σ W[o, c, ky ∈ row group gy, kx ∈ col group gx]`, in families (a row family
/// × a column family, `GatherAxisFamily`): each family one gather and one GEMM over its positions, its
/// members' combined weights stacked.
struct GatheredConvolution {
    struct Class {
        let rows: GatherAxisClass, cols: GatherAxisClass
        /// For each of its row (column) outputs, the family position along that axis it reads.
        let rowSlots: [Int], colSlots: [Int]
        /// Where its combined weights start in the combined-weights scratch, in units of O·C (members of a
        /// family follow each other, so the family's weights are one [members·O, C·taps] matrix).
        let tapOffset: Int
        /// Where its block [O, N·family positions] starts in the positions scratch, in units of O·N.
        let positionOffset: Int
        /// Whether it owns every position of its family.
        let ownsEveryPosition: Bool
        var taps: Int { rows.groups.count * cols.groups.count }
    }

    struct Family {
        let rows: GatherAxisFamily, cols: GatherAxisFamily
        /// Row member × column member, row-major; the family's combined weights and positions are its first
        /// member's (its columns: `FusedConvolution.ColumnLayout`).
        let members: [Class]
        var taps: Int { rows.groupCount * cols.groupCount }
        var positions: Int { rows.sources.count * cols.sources.count }
        var tapOffset: Int { members[0].tapOffset }
        var positionOffset: Int { members[0].positionOffset }
    }

    let n, c, h, w, o, kh, kw, oh, ow: Int
    let rows: GatherAxis, cols: GatherAxis
    let families: [Family]
    /// Every family's members, in order.
    var classes: [Class] { families.flatMap(\.members) }

    init(n: Int, c: Int, o: Int, rows: GatherAxis, cols: GatherAxis) {
        (self.n, self.c, self.o) = (n, c, o)
        (h, w, kh, kw, oh, ow) = (rows.source, cols.source, rows.kernel, cols.kernel, rows.outputs, cols.outputs)
        (self.rows, self.cols) = (rows, cols)
        var families: [Family] = [], taps = 0, positions = 0
        for rf in rows.families() {
            for cf in cols.families() {
                let (familyTaps, familyPositions) = (rf.groupCount * cf.groupCount, rf.sources.count * cf.sources.count)
                var members: [Class] = []
                for (r, rowMember) in rf.members.enumerated() {
                    for (col, colMember) in cf.members.enumerated() {
                        members.append(Class(rows: rowMember, cols: colMember, rowSlots: rf.slots[r], colSlots: cf.slots[col],
                                             tapOffset: taps, positionOffset: positions,
                                             ownsEveryPosition: rf.ownsEveryPosition(member: r) && cf.ownsEveryPosition(member: col)))
                        (taps, positions) = (taps + familyTaps, positions + familyPositions)
                    }
                }
                families.append(Family(rows: rf, cols: cf, members: members))
            }
        }
        self.families = families
    }

    /// One class whose groups are the single taps in order: its combined weights are the weights
    /// themselves ([O, C·kh·kw] either way), so no combining or uncombining pass is needed.
    var combinesIdentically: Bool {
        classes.count == 1 && classes[0].rows.groups == (0..<kh).map { [$0] } && classes[0].cols.groups == (0..<kw).map { [$0] }
    }

    /// Combined taps over all classes (the combined weights hold O·C·this many values).
    var combinedTaps: Int { classes.reduce(0) { $0 + $1.taps } }
    /// Every family's members' positions (O × N·positions each), side by side so each pass covers all
    /// families.
    var positionElements: Int { families.reduce(0) { $0 + $1.members.count * $1.positions } * o * n }

    var name: String {
        "\(GatherAxis.inputName(rows, cols))\(KernelName.pair("k", [kh, kw]))_\(KernelName.pair("s", [rows.stride, cols.stride]))_"
            + "\(KernelName.shape([n, c, h, w]))_to\(o)"
    }
}
