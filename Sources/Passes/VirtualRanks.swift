import GraphIR

/// Makes a training step's results independent of how its batch is split over processes: a process whose
/// share of the batch is `samples` samples runs them as that many *virtual ranks* of one sample each.
///
/// Run after `data-parallel` on a graph built for one sample and `samples × ranks` ranks (so
/// `sync-batch-statistics` and `data-parallel` have put an `all_reduce` wherever samples meet). The graph is
/// copied once per sample, each copy reading its sample of the batched inputs (now `samples` long), and every
/// `all_reduce` over the `samples × ranks` ranks becomes: each copy's operand converted to float64, summed
/// over the copies, summed over the `ranks` real ranks by an `all_reduce` of the float64 sums, averaged for a
/// mean, rounded once to the operand's type. Nodes that read no sample's data are kept once.
///
/// Why: splitting a float32 sum differently (one process summing a batch of 2, or 2 ranks summing 1 sample
/// each and then each other's results) rounds differently, and a GAN amplifies those last bits (a ReLU gate
/// within rounding of 0 flips; Adam spreads it). Here each sample's computation is the one a rank with a
/// batch of 1 runs, kernel for kernel, and what joins samples is a float64 sum of float32 values rounded
/// once, which does not depend on the order or grouping of its terms (but for values whose rounding falls
/// within float64's error of a float32 tie). So 1 process with batch B, N ranks with B/N each and B ranks
/// with 1 each compute the same bits.
///
/// Nothing changes where nothing is split: one sample per rank over at most 2 ranks keeps its float32
/// all-reduces, whose single addition is already rounded once.
public struct VirtualRanks: Pass {
    public static let name = "virtual-ranks"
    public let summary = "run a process's share of the batch as per-sample copies joined by float64 sums (after data-parallel)"
    /// The samples this process holds (its share of the batch): the number of copies.
    public var samples: Int
    /// The real ranks (processes) of the job.
    public var ranks: Int

    public init(samples: Int, ranks: Int) {
        self.samples = samples
        self.ranks = ranks
    }

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        guard samples >= 1, ranks >= 1 else { throw PassError(pass: name, "samples (\(samples)) and ranks (\(ranks)) must be at least 1") }
        let total = samples * ranks
        for node in graph.nodes where node.op === Ops.allReduce && node.attributes.int("ranks") != total {
            throw PassError(pass: name, "an all_reduce over \(node.attributes.int("ranks")) ranks: the graph must be built for "
                + "\(samples) samples × \(ranks) ranks = \(total) ranks of one sample each")
        }
        if samples == 1 && ranks <= 2 { return graph }

        let b = GraphBuilder(name: graph.name)
        // Per value: one ValueID shared by every copy, or one per copy (it depends on that copy's sample).
        var copies = [[ValueID]?](repeating: nil, count: graph.values.count)
        var batchedArguments: [(old: ValueID, new: ValueID)] = []
        for argument in graph.arguments {
            let type = graph.type(of: argument.value)
            guard graph.isBatched(argument) else {
                copies[argument.value.index] = [b.argument(copying: argument, type)]
                continue
            }
            guard type.shape[0] == 1 else {
                throw PassError(pass: name, "input '\(argument.name)' has \(type.shape[0]) samples; the graph must be built for one")
            }
            let batched = b.argument(copying: argument, TensorType(type.dtype, [samples] + type.shape.dropFirst()))
            batchedArguments.append((argument.value, batched))
        }
        // Each copy's sample, once every argument is declared (the text form lists arguments first).
        for (old, batched) in batchedArguments {
            let rest = Array(graph.type(of: old).shape.dropFirst())
            copies[old.index] = samples == 1 ? [batched] : try (0..<samples).map { s in
                try b.slice(batched, starts: [s] + rest.map { _ in 0 }, ends: [s + 1] + rest)
            }
        }
        for node in graph.nodes {
            let operands = node.operands.map { copies[$0.index]! }
            let types = node.results.map(graph.type(of:))
            let results: [[ValueID]]
            if node.op === Ops.allReduce {
                let operation = ReduceOperation(rawValue: node.attributes.string("operation"))!
                results = try combined(b, operands, operation).map { [$0] }
                statistics["all-reduces-in-float64"] += 1
            } else if operands.allSatisfy({ $0.count == 1 }) {
                results = b.copy(node, operands: operands.map { $0[0] }, resultTypes: types).map { [$0] }
            } else {
                let perCopy = (0..<samples).map { s in
                    b.copy(node, operands: operands.map { $0.count == 1 ? $0[0] : $0[s] }, resultTypes: types)
                }
                results = types.indices.map { r in perCopy.map { $0[r] } }
                statistics["nodes-copied"] += 1
            }
            for (old, new) in zip(node.results, results) { copies[old.index] = new }
        }
        for output in graph.outputs {
            let values = copies[output.value.index]!
            guard values.count > 1 else {
                b.output(copying: output, values[0])
                continue
            }
            // A per-sample result (an image, an activation) is the batch of the copies' results again.
            guard graph.type(of: output.value).rank > 0 else {
                throw PassError(pass: name, "output '\(output.name)' is a per-sample scalar; only batched tensors and all-reduced values can be outputs")
            }
            b.output(copying: output, try b.concat(values, axis: 0))
        }
        return b.graph
    }

    /// One all-reduce's results: per operand, the copies' values summed in float64 (in copy order), the sums
    /// of all operands all-reduced over the real ranks in one message, a mean divided once by every rank's
    /// samples, and each rounded back to its type.
    private func combined(_ b: GraphBuilder, _ operands: [[ValueID]], _ operation: ReduceOperation) throws -> [ValueID] {
        var sums: [ValueID] = []
        for values in operands {
            // A value every copy shares counts once per sample, as each rank of one sample holds it.
            let terms = try (0..<samples).map { s in try wide(b, values.count == 1 ? values[0] : values[s]) }
            sums.append(try terms.dropFirst().reduce(terms[0]) { try b.add($0, $1) })
        }
        if ranks > 1 { sums = try b.allReduce(sums, .sum, ranks: ranks) }
        return try zip(sums, operands).map { sum, values in
            let total = operation == .mean ? try b.scale(sum, by: 1 / Double(samples * ranks)) : sum
            let dtype = b.dtype(of: values[0])
            return dtype == .f64 ? total : try b.cast(total, to: dtype)
        }
    }

    private func wide(_ b: GraphBuilder, _ x: ValueID) throws -> ValueID {
        b.dtype(of: x) == .f64 ? x : try b.cast(x, to: .f64)
    }
}
