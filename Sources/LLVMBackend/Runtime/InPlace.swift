import GraphIR

/// In-place execution: a pointwise node may write a result over an operand that dies at that node (same
/// type, read at the same element as the result is written), so the memory plan gives both one buffer. The
/// kernel for such a call (a separate kernel from the out-of-place one) reads that operand through the
/// result's pointer and never touches the operand's own, so `noalias` stays true of every pointer it uses.
enum InPlace {
    /// For each node that can run in place: (result position, operand position) pairs. With
    /// `updatingArguments`, an argument X may be overwritten too, by the result that is the output `next.X`
    /// where that node is X's last reader (an optimiser's update): see `CompileOptions.updatesArgumentsInPlace`.
    static func pairs(_ graph: Graph, aliasOf: [Int: ValueID], updatingArguments: Bool = false) -> [Int: [(result: Int, operand: Int)]] {
        func root(_ v: ValueID) -> Int {
            var index = v.index
            while let next = aliasOf[index] { index = next.index }
            return index
        }
        var lastUse = [Int](repeating: -1, count: graph.values.count)
        for (i, node) in graph.nodes.enumerated() {
            for v in node.operands + node.results { lastUse[root(v)] = max(lastUse[root(v)], i) }
        }
        for output in graph.outputs { lastUse[root(output.value)] = Int.max }
        // Argument value → the value of its `next.` output.
        var update: [Int: Int] = [:]
        if updatingArguments {
            let outputs = Dictionary(graph.outputs.map { ($0.name, $0.value.index) }, uniquingKeysWith: { a, _ in a })
            for argument in graph.arguments {
                if let next = outputs["next." + argument.name] { update[argument.value.index] = next }
            }
        }
        var claimed = Set<Int>()  // roots already overwritten
        var pairs: [Int: [(result: Int, operand: Int)]] = [:]
        for (i, node) in graph.nodes.enumerated() where isPointwise(node) {
            var taken: [(result: Int, operand: Int)] = []
            // Arguments with their update here first: another operand must not take the update's result.
            let order = node.operands.indices.sorted { a, b in
                (update[root(node.operands[a])] != nil ? 0 : 1, a) < (update[root(node.operands[b])] != nil ? 0 : 1, b)
            }
            for k in order {
                let v = node.operands[k]
                let r = root(v)
                let isArgument: Bool
                switch graph.values[r].definition {
                case .node: isArgument = false
                default: isArgument = true
                }
                guard lastUse[r] == i, !claimed.contains(r), !isArgument || update[r] != nil,
                      // Every other operand on this storage must be this very value (read at the same element).
                      node.operands.allSatisfy({ root($0) != r || $0 == v }),
                      node.operands.firstIndex(of: v) == k,
                      let j = node.results.indices.first(where: { j in
                          graph.type(of: node.results[j]) == graph.type(of: v) && !taken.contains { $0.result == j }
                              // An argument only under its own update, never under another result.
                              && (!isArgument || update[r] == node.results[j].index)
                      }) else { continue }
                taken.append((j, k))
                claimed.insert(r)
            }
            if !taken.isEmpty { pairs[i] = taken }
        }
        return pairs
    }

    /// Kernels that read each operand and write each result at the same element, once, in one pass.
    static func isPointwise(_ node: Node) -> Bool {
        if let region = node.region { return node.fusionKind == .elementwise && region.outputs.count >= 1 }
        return Lowerings.scalarFunctions[node.op.name] != nil
    }
}
