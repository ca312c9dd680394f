/// Whole-graph checks: unique names, SSA order, operand counts, attributes, result types against each op's
/// shape rule, outputs and the loss. Returns every problem found, positioned where the graph came from text.
public func verify(_ graph: Graph) -> [Diagnostic] { verify(graph, depth: 0) }

/// `verify` of a graph nested `depth` fused regions deep.
private func verify(_ graph: Graph, depth: Int) -> [Diagnostic] {
    var problems: [Diagnostic] = []
    func report(_ message: String, _ location: SourceLocation?) { problems.append(Diagnostic(message, at: location)) }

    var argumentNames: Set<String> = []
    for arg in graph.arguments {
        if arg.name.isEmpty { report("an argument has an empty name", arg.location) }
        if !argumentNames.insert(arg.name).inserted { report("argument '\(arg.name)' is declared twice", arg.location) }
        if let problem = TensorType.validate(shape: graph.type(of: arg.value).shape) {
            report("argument '\(arg.name)': \(problem)", arg.location)
        }
    }

    // A value is usable once its definition has been passed; arguments are defined up front.
    var defined = [Bool](repeating: false, count: graph.values.count)
    for arg in graph.arguments { defined[arg.value.index] = true }
    for (index, node) in graph.nodes.enumerated() {
        let op = node.op
        let location = node.location
        for operand in node.operands {
            guard operand.index >= 0, operand.index < graph.values.count else {
                report("'\(op.name)' uses \(operand), which is not a value of this graph", location)
                continue
            }
            if !defined[operand.index] { report("'\(op.name)' uses \(operand) before its definition", location) }
        }
        for (i, result) in node.results.enumerated() where graph.values[result.index].definition != .node(index, result: i) {
            report("internal: result \(i) of '\(op.name)' is not recorded as defined by it", location)
        }
        if let message = op.operands.check(node.operands.count, op: op.name) {
            report(message, location)
            continue
        }
        if let region = node.region {
            if depth >= maxFusedRegionDepth {
                report("fused regions nest more than \(maxFusedRegionDepth) levels deep", location)
            } else {
                verifyRegion(region, of: node, in: graph, depth: depth + 1, report)
            }
            for result in node.results { defined[result.index] = true }
            continue
        }
        if op.traits.contains(.fused) {
            report("'\(op.name)' node has no region", location)
            continue
        }
        do {
            let checked = try op.checkAttributes(node.attributes)
            if checked != node.attributes {
                report("'\(op.name)' attributes are not in canonical form (defaults must be filled in)", location)
            }
            let validOperands = node.operands.allSatisfy { $0.index >= 0 && $0.index < graph.values.count }
            if validOperands {
                let expected = try op.inferTypes(node.operands.map { graph.type(of: $0) }, checked)
                let actual = node.results.map { graph.type(of: $0) }
                if expected != actual {
                    report("'\(op.name)' result type is \(actual.map(\.description).joined(separator: ", ")), but its operands give \(expected.map(\.description).joined(separator: ", "))", location)
                }
            }
        } catch {
            report(error.message, location)
        }
        for result in node.results { defined[result.index] = true }
    }

    var outputNames: Set<String> = []
    var lossCount = 0
    for output in graph.outputs {
        if !outputNames.insert(output.name).inserted { report("output '\(output.name)' is declared twice", output.location) }
        guard output.value.index >= 0, output.value.index < graph.values.count else {
            report("output '\(output.name)' refers to a value that does not exist", output.location)
            continue
        }
        if output.isLoss {
            lossCount += 1
            let type = graph.type(of: output.value)
            if type.elementCount != 1 {
                report("loss '\(output.name)' must be a scalar, but it is \(type)", output.location)
            }
        }
    }
    if lossCount > 1 {
        report("the graph marks \(lossCount) losses; autodiff needs exactly one", graph.outputs.first { $0.isLoss }?.location)
    }
    return problems
}

/// A fused node's region: itself a valid graph, whose arguments match the operands and outputs the results.
private func verifyRegion(
    _ region: Graph, of node: Node, in graph: Graph, depth: Int, _ report: (String, SourceLocation?) -> Void
) {
    for problem in verify(region, depth: depth) { report("in the region of '\(node.op.name)': \(problem.message)", problem.location ?? node.location) }
    let operandTypes = node.operands.map { graph.values.indices.contains($0.index) ? graph.type(of: $0).description : "?" }
    let argumentTypes = region.arguments.map { region.type(of: $0.value).description }
    if operandTypes != argumentTypes {
        report("'\(node.op.name)' operands are \(operandTypes.joined(separator: ", ")) but its region takes \(argumentTypes.joined(separator: ", "))", node.location)
    }
    let resultTypes = node.results.map { graph.type(of: $0) }
    let outputTypes = region.outputs.map { region.type(of: $0.value) }
    if resultTypes != outputTypes {
        report("'\(node.op.name)' results are \(resultTypes.map(\.description).joined(separator: ", ")) but its region yields \(outputTypes.map(\.description).joined(separator: ", "))", node.location)
    }
    do { _ = try node.op.checkAttributes(node.attributes) } catch { report(error.message, node.location) }
    // The region must read as its kind declares: what the backend lowers is what the pass meant.
    if let kind = node.fusionKind {
        do { _ = try kind.match(region) } catch { report(error.message, node.location) }
    }
}

extension Graph {
    /// Throws every verifier problem at once; returns normally for a valid graph.
    public func verified() throws(DiagnosticError) {
        let problems = verify(self)
        if !problems.isEmpty { throw DiagnosticError(problems) }
    }
}
