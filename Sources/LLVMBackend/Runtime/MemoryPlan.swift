import GraphIR

/// Where every value of a graph lives at run time: graph arguments in their own persistent buffers, node
/// results and kernel scratch at offsets of one arena, reused once a value is dead (a liveness-based
/// best-fit plan). Aliasing results (reshape, stop_gradient) share their operand's storage and extend its life.
struct MemoryPlan {
    enum Location: Equatable {
        case argument(Int)
        case arena(Int)
    }

    static let alignment = 64

    private(set) var values: [Location?]
    private(set) var scratch: [[Int]]
    private(set) var arenaBytes = 0
    /// What the arena would need with no reuse: every result and scratch buffer its own bytes.
    private(set) var unplannedBytes = 0

    /// Every block the plan placed, by arena offset: its size in bytes (with `reuse` off, one per buffer).
    private(set) var blocks: [Int: Int] = [:]

    /// `aliasOf[v]` is the operand a result aliases; `scratchBytes[i]` the scratch sizes of node i. With
    /// `reuse` false every buffer gets its own bytes (the guarded runtime puts each in its own mapping).
    /// `countingAsUnplanned`: sharing results (in place) that would have had their own bytes without reuse.
    init(graph: Graph, aliasOf: [Int: ValueID], countingAsUnplanned: Set<Int> = [], scratchBytes: [[Int]], reuse: Bool = true) {
        values = Array(repeating: nil, count: graph.values.count)
        scratch = scratchBytes.map { _ in [] }
        func root(_ v: ValueID) -> Int {
            var index = v.index
            while let next = aliasOf[index] { index = next.index }
            return index
        }
        for (i, argument) in graph.arguments.enumerated() { values[argument.value.index] = .argument(i) }

        var lastUse = [Int](repeating: -1, count: graph.values.count)
        for (i, node) in graph.nodes.enumerated() {
            for v in node.operands { lastUse[root(v)] = max(lastUse[root(v)], i) }
            for r in node.results { lastUse[root(r)] = max(lastUse[root(r)], i) }
        }
        for output in graph.outputs { lastUse[root(output.value)] = Int.max }

        var allocator = BestFitAllocator()
        func allocate(_ bytes: Int) -> Int {
            let offset = allocator.allocate(bytes)
            blocks[offset] = max(blocks[offset] ?? 0, bytes)
            return offset
        }
        func free(_ offset: Int, _ bytes: Int) { if reuse { allocator.free(offset, bytes) } }
        for (i, node) in graph.nodes.enumerated() {
            for r in node.results {
                let bytes = graph.type(of: r).byteCount
                if aliasOf[r.index] != nil {
                    if countingAsUnplanned.contains(r.index) { unplannedBytes += MemoryPlan.aligned(bytes) }
                    continue
                }
                unplannedBytes += MemoryPlan.aligned(bytes)
                values[r.index] = .arena(allocate(bytes))
            }
            scratch[i] = scratchBytes[i].map { bytes in
                unplannedBytes += MemoryPlan.aligned(bytes)
                return allocate(bytes)
            }
            for (offset, bytes) in zip(scratch[i], scratchBytes[i]) { free(offset, bytes) }
            // Free each arena root whose last use is this node (once, even if it appears twice).
            var freed = Set<Int>()
            for v in node.operands + node.results {
                let r = root(v)
                guard lastUse[r] == i, !freed.contains(r), case .arena(let offset) = values[r] else { continue }
                freed.insert(r)
                free(offset, graph.values[r].type.byteCount)
            }
        }
        arenaBytes = allocator.top
        for (index, _) in values.enumerated() where values[index] == nil && aliasOf[index] != nil {
            values[index] = values[root(ValueID(index))]
        }
    }

    static func aligned(_ bytes: Int) -> Int { (max(bytes, 1) + alignment - 1) / alignment * alignment }
}

/// Best-fit allocation of aligned blocks from a growing arena, merging neighbours on free.
struct BestFitAllocator {
    private var free: [(offset: Int, size: Int)] = []  // sorted by offset
    private(set) var top = 0

    mutating func allocate(_ bytes: Int) -> Int {
        let size = MemoryPlan.aligned(bytes)
        if let best = free.indices.filter({ free[$0].size >= size }).min(by: { free[$0].size < free[$1].size }) {
            let block = free[best]
            if block.size == size { free.remove(at: best) } else { free[best] = (block.offset + size, block.size - size) }
            return block.offset
        }
        // Grow: extend a free block that ends at the top rather than leaving it stranded.
        if let last = free.last, last.offset + last.size == top {
            free.removeLast()
            top = last.offset + size
            return last.offset
        }
        defer { top += size }
        return top
    }

    mutating func free(_ offset: Int, _ bytes: Int) {
        let size = MemoryPlan.aligned(bytes)
        let position = free.firstIndex { $0.offset > offset } ?? free.count
        free.insert((offset, size), at: position)
        if position + 1 < free.count, free[position].offset + free[position].size == free[position + 1].offset {
            free[position].size += free[position + 1].size
            free.remove(at: position + 1)
        }
        if position > 0, free[position - 1].offset + free[position - 1].size == free[position].offset {
            free[position - 1].size += free[position].size
            free.remove(at: position)
        }
    }
}
