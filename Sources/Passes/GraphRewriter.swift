import GraphIR

/// A node offered to a rewrite rule: the source node's op and attributes with its operands already mapped
/// into the graph being built, so a rule sees the rewritten producers of its operands.
struct RewriteCandidate {
    var op: OpDefinition
    var operands: [ValueID]
    var attributes: Attributes
    var resultTypes: [TensorType]
    var location: SourceLocation?
    /// The node's index in the source graph (for analyses made on the source).
    var sourceIndex: Int
    /// A fused node's region, carried through unchanged.
    var region: Graph? = nil
}

/// Rebuilds a graph node by node, in order, letting a rule replace each node's results with values of the
/// new graph (existing ones, or new nodes it emits). The shared machinery of `canonicalize`, `constant-fold`
/// and `cse`: arguments and outputs keep their names and order; a node the rule leaves alone is copied.
///
/// Afterwards it removes the nodes its replacements left without users, but only those: nodes that were
/// already dead in the source stay, so `dce` remains the one pass that removes dead code in general and
/// disabling it keeps its meaning.
final class GraphRewriter {
    /// The graph being built; rules read producers and types here.
    private(set) var graph: Graph
    /// For each node of `graph`: the source node it copies, or nil when a rule emitted it.
    private var origins: [Int?] = []

    private init(name: String) { graph = Graph(name: name) }

    /// The type of a value of the new graph.
    func type(of value: ValueID) -> TensorType { graph.type(of: value) }

    /// The node of the new graph that defines `value`, if a node does.
    func producer(of value: ValueID) -> Node? { graph.definingNode(of: value) }

    /// The splat value of `value` when a `constant` node defines it, rounded to its dtype as the interpreter
    /// stores it (a constant 0.1 in f32 holds Float(0.1), and rules must reason with that number).
    func splat(_ value: ValueID) -> Double? {
        guard let node = producer(of: value), node.op.traits.contains(.constant) else { return nil }
        return type(of: value).dtype.round(node.attributes.float("value"))
    }

    /// Emits a new node (attributes defaulted, result type inferred) and returns its single result.
    func emit(_ op: OpDefinition, _ operands: [ValueID], _ attributes: Attributes = [:], location: SourceLocation? = nil) throws -> ValueID {
        let results = try graph.addNode(op, operands, attributes, location: location)
        origins.append(nil)
        return results[0]
    }

    /// A constant of `type` filled with `value`.
    func constant(_ value: Double, _ type: TensorType, location: SourceLocation? = nil) throws -> ValueID {
        try emit(Ops.constant, [], ["value": .float(value), "shape": .ints(type.shape), "dtype": .string(type.dtype.rawValue)],
                 location: location)
    }

    /// Copies a node unchanged (operands as mapped) and returns its results in the new graph; for rules
    /// that need the kept node's results (cse). Returning them replaces the node by its own copy.
    func copy(_ node: RewriteCandidate) -> [ValueID] {
        origins.append(node.sourceIndex)
        if let region = node.region {
            return graph.appendFusedNode(kind: FusionKind(of: node.attributes)!, operands: node.operands, region: region, location: node.location)
        }
        return graph.appendNode(op: node.op, operands: node.operands, attributes: node.attributes,
                                resultTypes: node.resultTypes, location: node.location)
    }

    /// Rebuilds `source`, offering every node to `rule`, which returns replacement values for the node's
    /// results (each of the result's type) or nil to keep the node (copied unchanged). Rules count their
    /// own rewrites.
    static func rewrite(
        _ source: Graph, pass: String, _ rule: (GraphRewriter, RewriteCandidate) throws -> [ValueID]?
    ) throws -> Graph {
        let r = GraphRewriter(name: source.name)
        var map = [ValueID?](repeating: nil, count: source.values.count)
        for arg in source.arguments {
            map[arg.value.index] = r.graph.addArgument(name: arg.name, kind: arg.kind, type: source.type(of: arg.value),
                                                       location: arg.location)
        }
        for (index, node) in source.nodes.enumerated() {
            let candidate = RewriteCandidate(
                op: node.op, operands: node.operands.map { map[$0.index]! }, attributes: node.attributes,
                resultTypes: node.results.map { source.type(of: $0) }, location: node.location, sourceIndex: index,
                region: node.region)
            if let replacement = try rule(r, candidate) {
                // A wrong replacement would surface far away as a verifier error; name the culprit here.
                guard replacement.map(r.type(of:)) == candidate.resultTypes else {
                    throw PassError(pass: pass, "internal error: '\(node.op.name)' was replaced by values of types "
                        + "\(replacement.map { r.type(of: $0).description }) instead of \(candidate.resultTypes)")
                }
                for (old, new) in zip(node.results, replacement) { map[old.index] = new }
            } else {
                for (old, new) in zip(node.results, r.copy(candidate)) { map[old.index] = new }
            }
        }
        for output in source.outputs {
            r.graph.addOutput(name: output.name, value: map[output.value.index]!, isLoss: output.isLoss, location: output.location)
        }
        return r.removingOrphans(sourceLive: source.liveNodes())
    }

    /// `graph` without the nodes that are dead now but were live in the source (or were emitted by a rule):
    /// the ones this rewrite orphaned. What the kept dead code uses stays too (a dead node's operand may
    /// have been replaced by a new constant).
    private func removingOrphans(sourceLive: [Bool]) -> Graph {
        var keep = graph.liveNodes()
        for (i, origin) in origins.enumerated() where origin.map({ !sourceLive[$0] }) ?? false { keep[i] = true }
        for (i, node) in graph.nodes.enumerated().reversed() where keep[i] {
            for operand in node.operands {
                if case .node(let producer, _) = graph.values[operand.index].definition { keep[producer] = true }
            }
        }
        return keep.contains(false) ? graph.rebuilt(keepingNodes: keep) : graph
    }
}
