/// Builds graphs in Swift: `let y = try b.relu(b.conv2d(x, w, bias))`.
///
/// Each op file adds typed convenience methods (`conv2d`, `relu`, …) on top of `apply`, which fills default
/// attributes and infers result types from the op table.
public final class GraphBuilder {
    public private(set) var graph: Graph

    public init(name: String) { graph = Graph(name: name) }

    /// Continues building on an existing graph (passes use this to append gradient IR).
    public init(graph: Graph) { self.graph = graph }

    public func type(of value: ValueID) -> TensorType { graph.type(of: value) }
    public func shape(of value: ValueID) -> [Int] { graph.type(of: value).shape }
    public func dtype(of value: ValueID) -> DType { graph.type(of: value).dtype }

    /// Adds a runtime input.
    public func input(_ name: String, _ type: TensorType) -> ValueID {
        graph.addArgument(name: name, kind: .input, type: type)
    }

    /// Adds a parameter; trainable ones are what autodiff differentiates by default.
    public func parameter(_ name: String, _ type: TensorType, trainable: Bool = true) -> ValueID {
        graph.addArgument(name: name, kind: .parameter(trainable: trainable), type: type)
    }

    /// Applies `op` and returns all of its results.
    public func applyMulti(_ op: OpDefinition, _ operands: [ValueID], _ attributes: Attributes = [:]) throws -> [ValueID] {
        try graph.addNode(op, operands, attributes)
    }

    /// Applies a one-result `op`.
    public func apply(_ op: OpDefinition, _ operands: [ValueID], _ attributes: Attributes = [:]) throws -> ValueID {
        let results = try graph.addNode(op, operands, attributes)
        guard results.count == 1 else { throw OpError("'\(op.name)' has \(results.count) results; use applyMulti") }
        return results[0]
    }

    /// Names `value` as an output.
    public func output(_ name: String, _ value: ValueID) { graph.addOutput(name: name, value: value) }

    /// Adds a copy of `argument` (of another graph whose value has `type`): passes that rebuild a graph
    /// node by node start with these.
    public func argument(copying argument: GraphArgument, _ type: TensorType) -> ValueID {
        graph.addArgument(name: argument.name, kind: argument.kind, type: type, location: argument.location)
    }

    /// Appends a copy of `node` (of another graph) on `operands` of this one; returns its results.
    public func copy(_ node: Node, operands: [ValueID], resultTypes: [TensorType]) -> [ValueID] {
        graph.appendCopy(of: node, operands: operands, resultTypes: resultTypes)
    }

    /// Adds a copy of `output` (of another graph) naming `value`.
    public func output(copying output: Output, _ value: ValueID) {
        graph.addOutput(name: output.name, value: value, isLoss: output.isLoss, location: output.location)
    }

    /// Names `value` as the loss output (a scalar that autodiff differentiates).
    public func loss(_ name: String, _ value: ValueID) { graph.addOutput(name: name, value: value, isLoss: true) }

    /// Sums `value` over the axes NumPy broadcasting stretched, so the result has `shape` (the reverse of
    /// broadcasting `shape` to the value's shape; VJP rules of broadcasting ops use it).
    public func sumToShape(_ value: ValueID, _ shape: [Int]) throws -> ValueID {
        let from = self.shape(of: value)
        if from == shape { return value }
        let offset = from.count - shape.count
        guard offset >= 0 else { throw OpError("cannot sum \(from) down to the larger shape \(shape)") }
        var axes: [Int] = Array(0..<offset)
        for (i, d) in shape.enumerated() where d == 1 && from[offset + i] != 1 { axes.append(offset + i) }
        let summed = axes.isEmpty ? value : try reduceSum(value, axes: axes, keepdims: true)
        return self.shape(of: summed) == shape ? summed : try reshape(summed, to: shape)
    }
}

// Convenience methods for the elementwise group.
extension GraphBuilder {
    public func add(_ a: ValueID, _ b: ValueID) throws -> ValueID { try apply(Ops.add, [a, b]) }
    public func sub(_ a: ValueID, _ b: ValueID) throws -> ValueID { try apply(Ops.sub, [a, b]) }
    public func mul(_ a: ValueID, _ b: ValueID) throws -> ValueID { try apply(Ops.mul, [a, b]) }
    public func div(_ a: ValueID, _ b: ValueID) throws -> ValueID { try apply(Ops.div, [a, b]) }
    public func maximum(_ a: ValueID, _ b: ValueID) throws -> ValueID { try apply(Ops.maximum, [a, b]) }
    public func minimum(_ a: ValueID, _ b: ValueID) throws -> ValueID { try apply(Ops.minimum, [a, b]) }
    public func neg(_ x: ValueID) throws -> ValueID { try apply(Ops.neg, [x]) }
    public func sign(_ x: ValueID) throws -> ValueID { try apply(Ops.sign, [x]) }
    /// 1 where x > 0, else 0.
    public func step(_ x: ValueID) throws -> ValueID { try apply(Ops.step, [x]) }
    public func abs(_ x: ValueID) throws -> ValueID { try apply(Ops.abs, [x]) }
    public func square(_ x: ValueID) throws -> ValueID { try apply(Ops.square, [x]) }
    public func sqrt(_ x: ValueID) throws -> ValueID { try apply(Ops.sqrt, [x]) }
    public func exp(_ x: ValueID) throws -> ValueID { try apply(Ops.exp, [x]) }
    public func log(_ x: ValueID) throws -> ValueID { try apply(Ops.log, [x]) }
    public func reciprocal(_ x: ValueID) throws -> ValueID { try apply(Ops.reciprocal, [x]) }
    public func scale(_ x: ValueID, by factor: Double) throws -> ValueID {
        try apply(Ops.scale, [x], ["factor": .float(factor)])
    }
    public func shift(_ x: ValueID, by offset: Double) throws -> ValueID {
        try apply(Ops.shift, [x], ["offset": .float(offset)])
    }
}
