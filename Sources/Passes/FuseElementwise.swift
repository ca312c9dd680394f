import GraphIR

/// Groups chains of pointwise ops over one shape into fused nodes of kind `elementwise` (Adam's update of a
/// parameter, an activation's backward mask, a loss's arithmetic), which the backend turns into one loop:
/// each operand element loaded once, intermediates in registers, one store per value used outside.
///
/// Fusible: pointwise ops (`OpDefinition.isPointwise`: elementwise with one operand or NumPy broadcasting,
/// not PReLU, whose slope follows the channel axis), all of the same result shape. Splat constants they use are copied into the region. A
/// group sits where its first node was, so a node may join only if its other operands exist by then; this
/// keeps the graph acyclic without a reachability analysis.
public struct FuseElementwise: Pass {
    public static let name = "fuse-elementwise"
    public let summary = "fuse chains of same-shape pointwise ops into one elementwise kernel"

    public init() {}

    struct Group {
        var shape: [Int]
        var first: Int
        var members: [Int]
    }

    public func run(_ input: Graph, statistics: inout PassStatistics) throws -> Graph {
        let graph = input.hoistingSmallArgumentComputations()
        var groupOf = [Int?](repeating: nil, count: graph.nodes.count)
        var groups: [Group] = []
        func producer(_ v: ValueID) -> Int? {
            if case .node(let n, _) = graph.values[v.index].definition { return n }
            return nil
        }
        func isConstant(_ v: ValueID) -> Bool { producer(v).map { graph.nodes[$0].op.traits.contains(.constant) } ?? false }
        // Where a value becomes available once groups are placed at their first node.
        func available(_ v: ValueID) -> Int {
            guard let p = producer(v) else { return -1 }
            return groupOf[p].map { groups[$0].first } ?? p
        }

        // Whether `members` (plus constants) can sit at `first`: every other operand exists by then.
        func placeable(_ members: [Int], at first: Int) -> Bool {
            let inside = Set(members)
            return members.allSatisfy { m in
                graph.nodes[m].operands.allSatisfy { v in
                    if let p = producer(v), inside.contains(p) { return true }
                    return isConstant(v) || available(v) < first
                }
            }
        }

        for (i, node) in graph.nodes.enumerated() where node.op.isPointwise && node.results.count == 1 {
            let shape = graph.type(of: node.results[0]).shape
            var candidates: [Int] = []
            for v in node.operands {
                if let p = producer(v), let g = groupOf[p], groups[g].shape == shape, !candidates.contains(g) { candidates.append(g) }
            }
            // Prefer merging every group this node joins (Adam's moment chains meet in the update); else one.
            let everything = candidates.flatMap { groups[$0].members } + [i]
            let first = candidates.map { groups[$0].first }.min() ?? i
            let target: [Int]
            if candidates.count > 1 && placeable(everything, at: first) {
                target = candidates
            } else if let g = candidates.first(where: { placeable(groups[$0].members + [i], at: groups[$0].first) }) {
                target = [g]
            } else {
                target = []
            }
            if let keep = target.min(by: { groups[$0].first < groups[$1].first }) {
                for g in target where g != keep {
                    for member in groups[g].members { groupOf[member] = keep }
                    groups[keep].members += groups[g].members
                    groups[g].members = []
                }
                groups[keep].members.append(i)
                groups[keep].members.sort()
                groupOf[i] = keep
            } else {
                groupOf[i] = groups.count
                groups.append(Group(shape: shape, first: i, members: [i]))
            }
        }

        // Values used outside their group (by other nodes or outputs) become the fused node's results.
        var usedOutside = Set<ValueID>(graph.outputs.map(\.value))
        for (i, node) in graph.nodes.enumerated() {
            for v in node.operands {
                if let p = producer(v), let g = groupOf[p], groups[g].members.count > 1, groupOf[i] == g { continue }
                usedOutside.insert(v)
            }
        }
        // A group none of whose values is used is dead code: left as it is, for dce.
        for g in groups.indices where !groups[g].members.isEmpty
            && !groups[g].members.contains(where: { graph.nodes[$0].results.contains(where: usedOutside.contains) }) {
            for member in groups[g].members { groupOf[member] = nil }
            groups[g].members = [groups[g].first]
        }
        let fusedGroups = groups.indices.filter { groups[$0].members.count > 1 }
        statistics["groups"] = fusedGroups.count
        statistics["nodes-fused"] = fusedGroups.reduce(0) { $0 + groups[$1].members.count }
        if fusedGroups.isEmpty { return input }

        var fusions: [Int: Fusion] = [:], absorbed = Set<Int>()
        for g in fusedGroups {
            fusions[groups[g].first] = Fusion(kind: .elementwise, members: groups[g].members, exporting: usedOutside,
                                              copyingConstants: isConstant)
            absorbed.formUnion(groups[g].members.filter { $0 != groups[g].first })
        }
        return graph.fusing(fusions, absorbing: absorbed)
    }
}

extension Graph {
    /// Largest result (elements) `hoistingSmallArgumentComputations` moves.
    static let hoistableElements = 64

    /// The same graph with small computations that read only arguments (Adam's bias corrections from
    /// `optimizer.step` and `optimizer.lr`) moved to the top, order otherwise kept: autodiff leaves them
    /// after the gradients, where they would split every parameter's update into two loops (a group sits
    /// at its first node, so it cannot take operands made later). Small results only, so nothing large
    /// lives longer.
    func hoistingSmallArgumentComputations() -> Graph {
        var early = [Bool](repeating: false, count: nodes.count)
        var hoisted: [Int] = []
        for (i, node) in nodes.enumerated() where node.region == nil {
            let small = node.results.allSatisfy { type(of: $0).elementCount <= Graph.hoistableElements }
            let fromArguments = node.operands.allSatisfy { v in
                if case .node(let p, _) = values[v.index].definition { return early[p] }
                return true
            }
            if small && fromArguments { early[i] = true; hoisted.append(i) }
        }
        // Nothing to gain when they already come first.
        guard hoisted != Array(0..<hoisted.count) else { return self }
        return rebuilt(nodes: hoisted + nodes.indices.filter { !early[$0] })
    }
}
