import GraphIR

/// The second half of data parallelism, run after `autodiff` (and `sync-batch-statistics` before it):
/// every parameter gradient (`grad.<p>` output) is averaged over the ranks before the optimiser reads it,
/// so each rank applies the gradient of the whole batch's loss and the replicas stay equal.
///
/// Gradients are sent in buckets, as PyTorch DDP does: taken in the order the backward pass finishes them,
/// grouped until a bucket holds `bucketBytes`, and each bucket's `all_reduce` placed right after its last
/// gradient is computed. The runtime starts it there and waits for it only where the optimiser update first
/// reads it, so communication overlaps the rest of the backward pass.
public struct DataParallel: Pass {
    public static let name = "data-parallel"
    public let summary = "average the parameter gradients across ranks in buckets (after autodiff)"
    /// The number of ranks.
    public var ranks: Int
    /// A bucket is closed once it holds this many bytes (PyTorch DDP's default `bucket_cap_mb` is 25).
    public var bucketBytes: Int

    public static let defaultBucketBytes = 25 << 20

    public init(ranks: Int, bucketBytes: Int = DataParallel.defaultBucketBytes) {
        self.ranks = ranks
        self.bucketBytes = bucketBytes
    }

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        let gradientPrefix = Autodiff.gradientName("")
        // Computed gradients with the node that finishes them; a constant or argument one is equal on every rank.
        var order: [(node: Int, value: ValueID)] = []
        var seen = Set<ValueID>()
        for output in graph.outputs where output.name.hasPrefix(gradientPrefix) && seen.insert(output.value).inserted {
            guard case .node(let index, _) = graph.values[output.value.index].definition,
                  !graph.nodes[index].op.traits.contains(.constant) else { continue }
            order.append((index, output.value))
        }
        if order.isEmpty && !graph.outputs.contains(where: { $0.name.hasPrefix(gradientPrefix) }) {
            throw PassError(pass: name, "the graph has no `grad.<parameter>` outputs; run autodiff first")
        }
        order.sort { ($0.node, $0.value) < ($1.node, $1.value) }
        // Buckets by the node that finishes their last gradient (a node's gradients stay in one bucket).
        var bucket: [ValueID] = [], bytes = 0, bucketsAfter: [Int: [[ValueID]]] = [:]
        for (i, entry) in order.enumerated() {
            bucket.append(entry.value)
            bytes += graph.type(of: entry.value).byteCount
            let lastOfNode = i + 1 == order.count || order[i + 1].node != entry.node
            if bytes >= bucketBytes && lastOfNode || i + 1 == order.count {
                bucketsAfter[entry.node, default: []].append(bucket)
                (bucket, bytes) = ([], 0)
            }
        }

        let b = GraphBuilder(name: graph.name)
        var map = [ValueID?](repeating: nil, count: graph.values.count)
        var averaged: [ValueID: ValueID] = [:]
        for argument in graph.arguments { map[argument.value.index] = b.argument(copying: argument, graph.type(of: argument.value)) }
        for (index, node) in graph.nodes.enumerated() {
            let results = b.copy(node, operands: node.operands.map { map[$0.index]! }, resultTypes: node.results.map(graph.type(of:)))
            for (old, new) in zip(node.results, results) { map[old.index] = new }
            for bucket in bucketsAfter[index] ?? [] {
                let reduced = try b.allReduce(bucket.map { map[$0.index]! }, .mean, ranks: ranks)
                for (gradient, mean) in zip(bucket, reduced) { averaged[gradient] = mean }
                statistics["buckets"] += 1
                statistics["gradients-averaged"] += bucket.count
                statistics["bytes-averaged"] += bucket.reduce(0) { $0 + graph.type(of: $1).byteCount }
            }
        }
        for output in graph.outputs {
            let value = output.name.hasPrefix(gradientPrefix) ? averaged[output.value] ?? map[output.value.index]! : map[output.value.index]!
            b.output(copying: output, value)
        }
        return b.graph
    }
}
