// The printer of GraphIR's text format: the canonical form of a graph (see `parseGraph` for the grammar).

/// The canonical text of `graph`, ending in a newline; `parseGraph` reads it back to an equal graph.
///
/// Deterministic: node results are renumbered `%0, %1, …` in node order; arguments and nodes are printed in
/// the order they define values (so the parsed graph has the same value numbering); outputs come last.
/// Attributes are printed in the order the op declares them (any the op does not declare follow, sorted, so
/// that nothing is hidden in a malformed graph); floats use Swift's shortest round-trip spelling (`1.0`,
/// `1e-05`), so they read back bit for bit. Two-space indentation, one statement per line.
///
/// A malformed graph (operands that are not values of it) still prints, with `%<invalid vN>` placeholders
/// that the parser rejects.
public func printGraph(_ graph: Graph) -> String {
    GraphPrinter(graph).print()
}

private struct GraphPrinter {
    let graph: Graph
    /// The printed number of each node result, by value index.
    private var numbers: [Int?]

    init(_ graph: Graph) {
        self.graph = graph
        numbers = Array(repeating: nil, count: graph.values.count)
        var next = 0
        for node in graph.nodes {
            for result in node.results where graph.values.indices.contains(result.index) {
                numbers[result.index] = next
                next += 1
            }
        }
    }

    func print() -> String { "graph \(TextSyntax.name(graph.name)) {\n" + body(indent: "  ") + "}\n" }

    /// The statements, one per line at `indent`; a fused node's region follows it in braces, indented further.
    func body(indent: String) -> String {
        var out = ""
        // Merge arguments and nodes by the first value each defines (a node with no results stays right
        // after the statement before it).
        var a = 0, n = 0
        while a < graph.arguments.count || n < graph.nodes.count {
            let nodeKey = n < graph.nodes.count ? (graph.nodes[n].results.first?.index ?? -1) : Int.max
            if a < graph.arguments.count && graph.arguments[a].value.index < nodeKey {
                out += indent + argument(graph.arguments[a]) + "\n"
                a += 1
            } else {
                out += indent + node(graph.nodes[n])
                if let region = graph.nodes[n].region {
                    out += " {\n" + GraphPrinter(region).body(indent: indent + "  ") + indent + "}"
                }
                out += "\n"
                n += 1
            }
        }
        for output in graph.outputs {
            out += indent + "\(output.isLoss ? "loss" : "output") \(TextSyntax.name(output.name)) = \(reference(output.value))\n"
        }
        return out
    }

    private func argument(_ argument: GraphArgument) -> String {
        let type = type(of: argument.value)
        switch argument.kind {
        case .input: return "input \(reference(argument.value)) : \(type)"
        case .parameter(let trainable): return "param \(reference(argument.value)) : \(type)\(trainable ? " trainable" : "")"
        }
    }

    private func node(_ node: Node) -> String {
        var line = node.results.map(reference).joined(separator: ", ")
        line += " = \(node.op.name)(\(node.operands.map(reference).joined(separator: ", ")))"
        let declared = node.op.attributes.map(\.name)
        let names = declared.filter { node.attributes[$0] != nil }
            + node.attributes.values.keys.filter { node.op.attributeSpec(named: $0) == nil }.sorted()
        if !names.isEmpty {
            let attributes = names.compactMap { name in node.attributes[name].map { "\(name) = \(attributeText($0))" } }
            line += " {\(attributes.joined(separator: ", "))}"
        }
        return line + " : " + node.results.map(type(of:)).joined(separator: ", ")
    }

    private func isValue(_ value: ValueID) -> Bool { graph.values.indices.contains(value.index) }

    private func type(of value: ValueID) -> String {
        isValue(value) ? graph.type(of: value).description : "<invalid \(value)>"
    }

    /// `%name` for an argument, `%N` for a node result.
    private func reference(_ value: ValueID) -> String {
        guard isValue(value) else { return "%<invalid \(value)>" }
        switch graph.values[value.index].definition {
        case .argument(let index):
            return "%" + TextSyntax.name(graph.arguments[index].name)
        case .node:
            return numbers[value.index].map { "%\($0)" } ?? "%<invalid \(value)>"
        }
    }
}

/// An attribute value as the text format spells it.
func attributeText(_ value: AttributeValue) -> String {
    switch value {
    case .int(let v): return String(v)
    case .float(let v): return v.description
    case .bool(let v): return v ? "true" : "false"
    case .string(let s):
        // Bare `true`/`false` would read back as bools.
        return TextSyntax.isIdentifier(s) && s != "true" && s != "false" ? s : TextSyntax.quoted(s)
    case .ints(let v): return "[" + v.map(String.init).joined(separator: ", ") + "]"
    case .floats(let v): return "[" + v.map(\.description).joined(separator: ", ") + "]"
    }
}
