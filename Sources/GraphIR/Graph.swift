/// A value in a graph: an index into `Graph.values`. Values are in SSA form: each is defined once, by an
/// argument or by one result of one node.
public struct ValueID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let index: Int
    public init(_ index: Int) { self.index = index }
    public static func < (a: ValueID, b: ValueID) -> Bool { a.index < b.index }
    public var description: String { "v\(index)" }
}

/// A position in a source file (1-based), carried by parsed entities so later diagnostics can point at them.
public struct SourceLocation: Hashable, Sendable {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
}

/// What defines a value.
public enum ValueDefinition: Hashable, Sendable {
    case argument(Int)
    case node(Int, result: Int)
}

/// A value's static type and its definition.
public struct ValueInfo: Hashable, Sendable {
    public var type: TensorType
    public var definition: ValueDefinition
}

/// A graph argument: a runtime input or a parameter (weights; trainable ones are what autodiff and the
/// optimiser act on). Names are PyTorch `state_dict` names for parameters, so checkpoints interoperate.
public struct GraphArgument: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case input
        case parameter(trainable: Bool)
    }
    public var name: String
    public var kind: Kind
    public var value: ValueID
    public var location: SourceLocation?

    public var isParameter: Bool { if case .parameter = kind { return true } else { return false } }
    public var isTrainable: Bool { kind == .parameter(trainable: true) }
}

/// One operation: an op from the table applied to operand values, producing one or more result values.
public struct Node: Hashable, Sendable {
    public var op: OpDefinition
    public var operands: [ValueID]
    public var attributes: Attributes
    public var results: [ValueID]
    public var location: SourceLocation?
    /// A fused node's sub-graph: its arguments take the operands in order, its outputs are the results.
    public var region: Graph? = nil

    /// The single result of a one-result node.
    public var result: ValueID {
        precondition(results.count == 1, "\(op.name) has \(results.count) results")
        return results[0]
    }
}

/// A named graph output; `isLoss` marks the scalar that autodiff differentiates.
public struct Output: Hashable, Sendable {
    public var name: String
    public var value: ValueID
    public var isLoss: Bool
    public var location: SourceLocation?
}

/// A static tensor graph: arguments, nodes in topological order, named outputs.
///
/// Build one with `GraphBuilder` or `parseGraph`; `verify()` checks it; `printGraph` gives its canonical text.
public struct Graph: Hashable, Sendable {
    public var name: String
    public private(set) var values: [ValueInfo] = []
    public private(set) var arguments: [GraphArgument] = []
    public private(set) var nodes: [Node] = []
    public var outputs: [Output] = []

    public init(name: String) { self.name = name }

    public func type(of value: ValueID) -> TensorType { values[value.index].type }

    /// The node defining `value`, if a node does.
    public func definingNode(of value: ValueID) -> Node? {
        if case .node(let n, _) = values[value.index].definition { return nodes[n] }
        return nil
    }

    public func argument(named name: String) -> GraphArgument? { arguments.first { $0.name == name } }
    public func output(named name: String) -> Output? { outputs.first { $0.name == name } }

    /// The same graph with its arguments renamed (a sampler that reads the `ema.` copies of the weights).
    public func renamingArguments(_ rename: (String) -> String) -> Graph {
        var graph = self
        for i in graph.arguments.indices { graph.arguments[i].name = rename(graph.arguments[i].name) }
        return graph
    }

    /// The loss output, if one is marked.
    public var lossOutput: Output? { outputs.first { $0.isLoss } }

    public var inputs: [GraphArgument] { arguments.filter { !$0.isParameter } }
    public var parameters: [GraphArgument] { arguments.filter(\.isParameter) }
    /// Whether an argument carries a sample axis first: an input that is not a scalar (images, noise), as
    /// the data-parallel passes (`sync-batch-statistics`, `virtual-ranks`) split the batch.
    public func isBatched(_ argument: GraphArgument) -> Bool { !argument.isParameter && type(of: argument.value).rank > 0 }
    public var trainableParameters: [GraphArgument] { arguments.filter(\.isTrainable) }

    /// Adds an argument and returns its value.
    @discardableResult
    public mutating func addArgument(
        name: String, kind: GraphArgument.Kind, type: TensorType, location: SourceLocation? = nil
    ) -> ValueID {
        let id = ValueID(values.count)
        values.append(ValueInfo(type: type, definition: .argument(arguments.count)))
        arguments.append(GraphArgument(name: name, kind: kind, value: id, location: location))
        return id
    }

    /// Appends a node whose result types are already known (inferred by the caller or read from text); the
    /// verifier checks them against the op's shape rule.
    @discardableResult
    public mutating func appendNode(
        op: OpDefinition, operands: [ValueID], attributes: Attributes, resultTypes: [TensorType],
        location: SourceLocation? = nil
    ) -> [ValueID] {
        let nodeIndex = nodes.count
        var results: [ValueID] = []
        for (i, t) in resultTypes.enumerated() {
            results.append(ValueID(values.count))
            values.append(ValueInfo(type: t, definition: .node(nodeIndex, result: i)))
        }
        nodes.append(Node(op: op, operands: operands, attributes: attributes, results: results, location: location))
        return results
    }

    /// Appends a node, filling default attributes and inferring its result types from the op's shape rule.
    @discardableResult
    public mutating func addNode(
        _ op: OpDefinition, _ operands: [ValueID], _ attributes: Attributes = [:], location: SourceLocation? = nil
    ) throws(OpError) -> [ValueID] {
        for v in operands where v.index < 0 || v.index >= values.count {
            throw OpError("\(op.name): operand \(v) is not a value of this graph")
        }
        if let message = op.operands.check(operands.count, op: op.name) { throw OpError(message) }
        let attrs = try op.checkAttributes(attributes)
        let types = try op.inferTypes(operands.map { type(of: $0) }, attrs)
        return appendNode(op: op, operands: operands, attributes: attrs, resultTypes: types, location: location)
    }

    /// Appends a fused node (`Ops.fused`) of `kind` running `region` on `operands`; its results have the
    /// types of the region's outputs. The verifier checks the region against the kind's grammar.
    @discardableResult
    public mutating func appendFusedNode(
        kind: FusionKind, operands: [ValueID], region: Graph, location: SourceLocation? = nil
    ) -> [ValueID] {
        let results = appendNode(op: Ops.fused, operands: operands, attributes: [FusionKind.attribute: .string(kind.rawValue)],
                                 resultTypes: region.outputs.map { region.type(of: $0.value) }, location: location)
        nodes[nodes.count - 1].region = region
        return results
    }

    /// Appends a copy of `node` (from any graph) with `operands` of this graph; keeps a fused node's region.
    @discardableResult
    public mutating func appendCopy(of node: Node, operands: [ValueID], resultTypes: [TensorType]) -> [ValueID] {
        if let region = node.region, let kind = node.fusionKind {
            return appendFusedNode(kind: kind, operands: operands, region: region, location: node.location)
        }
        return appendNode(op: node.op, operands: operands, attributes: node.attributes, resultTypes: resultTypes, location: node.location)
    }

    /// Adds a named output.
    public mutating func addOutput(name: String, value: ValueID, isLoss: Bool = false, location: SourceLocation? = nil) {
        outputs.append(Output(name: name, value: value, isLoss: isLoss, location: location))
    }

    /// Number of uses of each value by nodes and outputs.
    public func useCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: values.count)
        for node in nodes { for v in node.operands { counts[v.index] += 1 } }
        for o in outputs { counts[o.value.index] += 1 }
        return counts
    }
}
