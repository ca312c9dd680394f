import GraphIR

/// Removes nodes none of whose results reaches an output (for example the gradient of a convolution with
/// respect to an image input, which its VJP rule emits but nothing uses). Arguments are kept: they are the
/// graph's interface even when unused.
public struct DeadCodeElimination: Pass {
    public static let name = "dce"
    public let summary = "remove nodes whose results no output depends on"

    public init() {}

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        let keep = graph.liveNodes()
        statistics["nodes-removed"] = keep.filter { !$0 }.count
        if !keep.contains(false) { return graph }
        return graph.rebuilt(keepingNodes: keep)
    }
}

extension Graph {
    /// Which nodes have a result that some output depends on.
    func liveNodes() -> [Bool] {
        var liveValues = [Bool](repeating: false, count: values.count)
        for output in outputs { liveValues[output.value.index] = true }
        var live = [Bool](repeating: false, count: nodes.count)
        for (index, node) in nodes.enumerated().reversed() where node.results.contains(where: { liveValues[$0.index] }) {
            live[index] = true
            for operand in node.operands { liveValues[operand.index] = true }
        }
        return live
    }

    /// A copy of this graph with only the nodes where `keep` is true (their operands must be kept too),
    /// arguments and outputs unchanged, values renumbered.
    func rebuilt(keepingNodes keep: [Bool]) -> Graph {
        rebuilt(nodes: nodes.indices.filter { keep[$0] })
    }

    /// A copy of this graph with the nodes `order` in that order (each after its operands' producers),
    /// arguments and outputs unchanged, values renumbered. Where `replace` returns pairs, node i is not
    /// copied: `replace` has appended its stand-in to the new graph (reading old values through `map`) and
    /// says which old values the new ones stand for. The one graph-copying loop the passes share.
    func rebuilt(nodes order: [Int],
                 replacing replace: (_ i: Int, _ graph: inout Graph, _ map: (ValueID) -> ValueID) -> [(ValueID, ValueID)]? = { _, _, _ in nil })
        -> Graph {
        var result = Graph(name: name)
        var map: [ValueID: ValueID] = [:]
        for arg in arguments {
            map[arg.value] = result.addArgument(name: arg.name, kind: arg.kind, type: type(of: arg.value), location: arg.location)
        }
        for index in order {
            if let replaced = replace(index, &result, { map[$0]! }) {
                for (old, new) in replaced { map[old] = new }
                continue
            }
            let node = nodes[index]
            let results = result.appendCopy(of: node, operands: node.operands.map { map[$0]! },
                                            resultTypes: node.results.map { type(of: $0) })
            for (old, new) in zip(node.results, results) { map[old] = new }
        }
        for output in outputs {
            result.addOutput(name: output.name, value: map[output.value]!, isLoss: output.isLoss, location: output.location)
        }
        return result
    }
}
