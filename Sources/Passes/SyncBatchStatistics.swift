import GraphIR

/// The first half of data parallelism, run on a loss graph before `autodiff`: where the computation mixes
/// the samples of the batch, each rank's share is combined with the others' through `all_reduce`, so every
/// rank computes what one process computes on the whole batch.
///
/// - A `reduce_sum`/`reduce_mean` over the batch axis (the losses' means, batch norm's running statistics)
///   is followed by an all-reduce (sum, or mean of the equal shares).
/// - `batch_norm` is spelled out with its per-channel mean and (biased, centred) variance averaged over the
///   ranks: two all-reduces, so the variance of the whole batch is centred on the whole batch's mean.
///
/// Autodiff then differentiates through the all-reduces (their VJP reduces the upstream gradients), and
/// `data-parallel` averages the parameter gradients. The batch axis is axis 0 of the graph's inputs; an op
/// that would move or merge it (a transpose, a reshape or concat across it, a product contracting it) is
/// refused, since splitting the batch would change its result.
public struct SyncBatchStatistics: Pass {
    public static let name = "sync-batch-statistics"
    public let summary = "combine batch-axis reductions and batch norm statistics across ranks (before autodiff)"
    /// The number of ranks the global batch is split over.
    public var ranks: Int

    public init(ranks: Int) { self.ranks = ranks }

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        if graph.outputs.contains(where: { $0.name.hasPrefix(Autodiff.gradientName("")) }) {
            throw PassError(pass: name, "run it before autodiff: the gradients must see the all-reduces")
        }
        let b = GraphBuilder(graph: Graph(name: graph.name))
        var map = [ValueID?](repeating: nil, count: graph.values.count)
        var batched = [Bool](repeating: false, count: graph.values.count)
        for argument in graph.arguments {
            let type = graph.type(of: argument.value)
            map[argument.value.index] = b.argument(copying: argument, type)
            batched[argument.value.index] = graph.isBatched(argument)
        }
        for node in graph.nodes {
            let operands = node.operands.map { map[$0.index]! }
            let batchedOperands = node.operands.filter { batched[$0.index] }
            var results: [ValueID]
            if batchedOperands.isEmpty {
                results = b.copy(node, operands: operands, resultTypes: node.results.map(graph.type(of:)))
            } else if node.op === Ops.batchNorm {
                results = [try synchronizedBatchNorm(b, operands, eps: node.attributes.float("eps"))]
                statistics["batch-norms-synchronized"] += 1
            } else if node.op === Ops.reduceSum || node.op === Ops.reduceMean, node.attributes.ints("axes").contains(0) {
                let local = b.copy(node, operands: operands, resultTypes: node.results.map(graph.type(of:)))
                let operation: ReduceOperation = node.op === Ops.reduceSum ? .sum : .mean
                results = try b.allReduce(local, operation, ranks: ranks)
                statistics["reductions-synchronized"] += 1
                for (old, new) in zip(node.results, results) { map[old.index] = new }
                continue  // the reduced value is the whole batch's: no longer per sample
            } else {
                try requireSampleWise(node, graph)
                results = b.copy(node, operands: operands, resultTypes: node.results.map(graph.type(of:)))
            }
            for (old, new) in zip(node.results, results) {
                map[old.index] = new
                batched[old.index] = !batchedOperands.isEmpty && graph.type(of: old).rank > 0
            }
        }
        for output in graph.outputs {
            b.output(copying: output, map[output.value.index]!)
        }
        return b.graph
    }

    /// Training-mode batch norm over the ranks' samples together: mean and centred variance per channel,
    /// each averaged over the ranks (every rank holds the same number of samples).
    private func synchronizedBatchNorm(_ b: GraphBuilder, _ operands: [ValueID], eps: Double) throws -> ValueID {
        try b.batchNormSpelledOut(operands[0], gamma: operands[1], beta: operands[2], eps: eps) { statistic in
            try b.allReduce([statistic], .mean, ranks: ranks)[0]
        }
    }

    /// Throws unless `node` keeps each sample to itself along axis 0 (which every op of MUNIT's forward
    /// graphs but the synchronised ones does).
    private func requireSampleWise(_ node: Node, _ graph: Graph) throws {
        let operandTypes = node.operands.map(graph.type(of:))
        let batch = operandTypes.first { $0.rank > 0 }?.shape[0] ?? 1
        let mixes: Bool
        switch node.op {
        case Ops.transpose: mixes = node.attributes.ints("perm").first != 0
        case Ops.concat: mixes = node.attributes.int("axis") == 0
        case Ops.slice: mixes = node.attributes.ints("starts").first != 0 || node.attributes.ints("ends").first != operandTypes[0].shape.first
        case Ops.matmul: mixes = true  // contracts whatever axis 0 of its right operand is
        default: mixes = node.results.contains { graph.type(of: $0).rank == 0 || graph.type(of: $0).shape[0] != batch }
        }
        if mixes {
            let place = node.location.map { " at \($0.line):\($0.column)" } ?? ""
            throw PassError(pass: name, "'\(node.op.name)'\(place) mixes the samples of the batch in a way that cannot be "
                + "split across ranks; data-parallel training supports per-sample ops, batch-axis reductions and batch norm")
        }
    }
}
