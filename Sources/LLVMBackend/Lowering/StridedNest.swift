/// A loop nest over a shape where each of several buffers has its own strides (0 to broadcast): the
/// workhorse of elementwise, layout and reduction kernels. Axes of size 1 are dropped and adjacent axes
/// that are contiguous for every buffer are merged, so a plain elementwise op becomes one flat loop the
/// vectoriser handles, whatever the rank.
struct StridedNest {
    private(set) var shape: [Int]
    private(set) var strides: [[Int]]

    init(shape: [Int], strides: [[Int]]) {
        var shape = shape, strides = strides
        // Drop unit axes.
        for axis in stride(from: shape.count - 1, through: 0, by: -1) where shape[axis] == 1 {
            shape.remove(at: axis)
            for k in strides.indices { strides[k].remove(at: axis) }
        }
        // Merge axis i into i + 1 when every buffer steps over axis i exactly as far as one full run of i + 1.
        var axis = shape.count - 2
        while axis >= 0 {
            if strides.allSatisfy({ $0[axis] == $0[axis + 1] * shape[axis + 1] }) {
                shape[axis + 1] *= shape[axis]
                shape.remove(at: axis)
                for k in strides.indices { strides[k].remove(at: axis) }
            }
            axis -= 1
        }
        if shape.isEmpty {
            shape = [1]
            strides = strides.map { _ in [0] }
        }
        self.shape = shape
        self.strides = strides
    }

    /// The outer axis's length: the unit of parallel work.
    var parallelCount: Int { shape[0] }

    /// Emits the nest with its outer axis restricted to `begin ..< end` (or whole when `restrictOuter` is
    /// false) and calls `body` with each buffer's offset (`bases` plus the strided index).
    func emit(_ e: KernelEmitter, bases: [IRValue]? = nil, restrictOuter: Bool = true, _ body: ([IRValue]) -> Void) {
        let start = bases ?? strides.map { _ in e.index(0) }
        func level(_ axis: Int, _ offsets: [IRValue]) {
            if axis == shape.count { return body(offsets) }
            let (lo, hi) = axis == 0 && restrictOuter ? (e.begin, e.end) : (e.index(0), e.index(shape[axis]))
            e.loop(lo, hi) { i in
                level(axis + 1, zip(offsets, strides).map { offset, s in s[axis] == 0 ? offset : offset + i * s[axis] })
            }
        }
        level(0, start)
    }
}
