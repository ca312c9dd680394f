import GraphIR

/// Nodes `members` of `graph` (in graph order) as a fused node's region: external operands become arguments
/// `a0, a1, …` in order of first use, constants for which `copyingConstants` holds are copied in, and the
/// members' results in `exporting` become outputs `r0, r1, …`. Returns the region, the values to pass as
/// the fused node's operands, and the values its results replace.
func makeRegion(members: [Int], of graph: Graph, exporting: Set<ValueID>, copyingConstants: (ValueID) -> Bool)
    -> (region: Graph, operands: [ValueID], exported: [ValueID]) {
    var region = Graph(name: "region")
    var map: [ValueID: ValueID] = [:]
    var operands: [ValueID] = []
    for index in members {
        let node = graph.nodes[index]
        for v in node.operands where map[v] == nil {
            if copyingConstants(v), case .node(let p, _) = graph.values[v.index].definition {
                let constant = graph.nodes[p]
                map[v] = region.appendNode(op: constant.op, operands: [], attributes: constant.attributes,
                                           resultTypes: [graph.type(of: v)], location: constant.location)[0]
            } else {
                // Not yet mapped, so not defined by an earlier member: an argument.
                map[v] = region.addArgument(name: "a\(operands.count)", kind: .input, type: graph.type(of: v))
                operands.append(v)
            }
        }
        // A copy keeps a member's own region (a fused convolution inside an epilogue fusion).
        let results = region.appendCopy(of: node, operands: node.operands.map { map[$0]! },
                                        resultTypes: node.results.map { graph.type(of: $0) })
        for (old, new) in zip(node.results, results) { map[old] = new }
    }
    var exported: [ValueID] = []
    for index in members {
        for r in graph.nodes[index].results where exporting.contains(r) {
            region.addOutput(name: "r\(exported.count)", value: map[r]!)
            exported.append(r)
        }
    }
    return (region, operands, exported)
}

/// Nodes a fusion pass groups into one fused node of `kind`: `members` in graph order (or any order where
/// no member reads another's result: the region lists them as given), the values used
/// outside (`exporting`), and the constants to copy into the region rather than pass in.
struct Fusion {
    var kind: FusionKind
    var members: [Int]
    var exporting: Set<ValueID>
    var copyingConstants: (ValueID) -> Bool = { _ in false }
}

extension Graph {
    /// This graph with each `fusions[i]` as one fused node in place of node i, and the nodes in `absorbed`
    /// (members whose values only their fused node uses) left out; everything else copied as it is.
    func fusing(_ fusions: [Int: Fusion], absorbing absorbed: Set<Int>) -> Graph {
        rebuilt(nodes: nodes.indices.filter { !absorbed.contains($0) }) { i, result, map in
            guard let fusion = fusions[i] else { return nil }
            let (region, operands, exported) = makeRegion(members: fusion.members, of: self, exporting: fusion.exporting,
                                                          copyingConstants: fusion.copyingConstants)
            let results = result.appendFusedNode(kind: fusion.kind, operands: operands.map(map), region: region,
                                                 location: nodes[i].location)
            return Array(zip(exported, results))
        }
    }
}
