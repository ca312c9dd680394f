// Graphviz export, for looking at a graph: `munitc build --dump-dot | dot -Tsvg > g.svg`.

/// The graph in Graphviz DOT.
///
/// Inputs are ellipses; parameters are filled ellipses (blue and marked "trainable" when trainable, grey
/// otherwise); nodes are boxes labelled with the op name and result type(s); each edge is labelled with the
/// type of the value it carries (and `#i` for result i of a multi-result node); outputs are double octagons
/// (a loss is marked "loss"). Graphviz ids are `a<i>`, `n<i>`, `o<i>` for argument, node and output `i`.
public func dotGraph(_ graph: Graph) -> String {
    var out = "digraph \(dotString(graph.name)) {\n"
    out += "  rankdir=TB;\n"
    out += "  node [fontname=\"Helvetica\", fontsize=10];\n"
    out += "  edge [fontname=\"Helvetica\", fontsize=9];\n"

    for (i, argument) in graph.arguments.enumerated() {
        let type = typeText(graph, argument.value)
        switch argument.kind {
        case .input:
            out += "  a\(i) [shape=ellipse, label=\(dotString(argument.name + "\n" + type))];\n"
        case .parameter(trainable: true):
            out += "  a\(i) [shape=ellipse, style=filled, fillcolor=\"#cfe2ff\", "
                + "label=\(dotString(argument.name + "\n" + type + "\ntrainable"))];\n"
        case .parameter(trainable: false):
            out += "  a\(i) [shape=ellipse, style=filled, fillcolor=\"#e6e6e6\", "
                + "label=\(dotString(argument.name + "\n" + type))];\n"
        }
    }
    for (i, node) in graph.nodes.enumerated() {
        let types = node.results.map { typeText(graph, $0) }.joined(separator: "\n")
        out += "  n\(i) [shape=box, label=\(dotString(node.op.name + "\n" + types))];\n"
    }
    for (i, output) in graph.outputs.enumerated() {
        let label = (output.isLoss ? "loss " : "") + output.name
        out += "  o\(i) [shape=doubleoctagon, label=\(dotString(label))];\n"
    }

    for (i, node) in graph.nodes.enumerated() {
        for operand in node.operands {
            if let edge = edge(graph, from: operand, to: "n\(i)") { out += edge }
        }
    }
    for (i, output) in graph.outputs.enumerated() {
        if let edge = edge(graph, from: output.value, to: "o\(i)") { out += edge }
    }
    return out + "}\n"
}

/// An edge from the definition of `value` to `target`, or nil for a value not in the graph.
private func edge(_ graph: Graph, from value: ValueID, to target: String) -> String? {
    guard graph.values.indices.contains(value.index) else { return nil }
    var label = graph.type(of: value).description
    let source: String
    switch graph.values[value.index].definition {
    case .argument(let index):
        source = "a\(index)"
    case .node(let index, let result):
        source = "n\(index)"
        if graph.nodes[index].results.count > 1 { label = "#\(result) " + label }
    }
    return "  \(source) -> \(target) [label=\(dotString(label))];\n"
}

private func typeText(_ graph: Graph, _ value: ValueID) -> String {
    graph.values.indices.contains(value.index) ? graph.type(of: value).description : "<invalid \(value)>"
}

/// A DOT quoted string: `"` and `\` escaped, newlines as Graphviz's centred line break `\n`, `&` as an entity
/// (Graphviz expands entities in labels), other control characters spelled out as `\u{…}` text.
func dotString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "&": result += "&amp;"
        case "\u{0}"..."\u{1F}", "\u{7F}": result += "\\\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}
