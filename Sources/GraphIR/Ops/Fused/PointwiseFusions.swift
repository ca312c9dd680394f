/// An `elementwise` fused node: pointwise ops (and the splat constants they use) evaluated per element of
/// one shape, every result of that shape. `fuse-elementwise` builds it; the backend runs it as one loop.
public struct ElementwiseFusion: Sendable {
    /// The region read.
    public let region: Graph
    /// The shape of every result, and of the loop.
    public let shape: [Int]

    /// Whether a node of `op` may sit in the region.
    public static func admits(_ op: OpDefinition) -> Bool { op.isPointwise || op.traits.contains(.constant) }

    init(region: Graph) throws(OpError) {
        for node in region.nodes where !Self.admits(node.op) {
            throw OpError("an elementwise fused node contains '\(node.op.name)', which is not a pointwise op")
        }
        let shapes = region.outputs.map { region.type(of: $0.value).shape }
        guard let shape = shapes.first, shapes.allSatisfy({ $0 == shape }) else {
            throw OpError("an elementwise fused node's results must share one shape, got \(shapes)")
        }
        (self.region, self.shape) = (region, shape)
    }
}

/// A `prologue` fused node: a pointwise producer (one op, or an `elementwise` fused node) folded into the
/// op that alone reads its result and streams that operand (a reduction, a norm gradient). The consumer's
/// loads of the operand compute the producer's value at the element; the intermediate is never written.
public struct PrologueFusion: Sendable {
    /// The region read.
    public let region: Graph
    /// The pointwise producer and the op that streams its result.
    public let producer: Node, consumer: Node
    /// The producer's region when it is an `elementwise` fused node (read).
    public let producerFusion: ElementwiseFusion?
    /// The consumer operand the producer computes.
    public let operand: Int

    /// The operand of `op` a prologue computes: a norm gradient's upstream gradient (operand 1), otherwise
    /// the streamed input (operand 0); nil for an op that streams none.
    public static func foldedOperand(of op: OpDefinition) -> Int? {
        guard op.traits.contains(.streamsOperand) else { return nil }
        return op.traits.contains(.backward) ? 1 : 0
    }

    /// Whether `node` of `graph` can be computed at each element of its one result: a pointwise op or an
    /// `elementwise` fused node, whose operands have the result's shape or one element.
    public static func isPointwiseProducer(_ node: Node, in graph: Graph) -> Bool {
        let pointwise = node.region == nil ? node.op.isPointwise : node.fusionKind == .elementwise
        guard pointwise, node.results.count == 1 else { return false }
        let shape = graph.type(of: node.results[0]).shape
        return node.operands.allSatisfy { graph.type(of: $0).shape == shape || graph.type(of: $0).elementCount == 1 }
    }

    init(region: Graph) throws(OpError) {
        let names = region.nodes.map(\.op.name)
        guard region.nodes.count == 2, let operand = Self.foldedOperand(of: region.nodes[1].op),
              operand < region.nodes[1].operands.count else {
            throw OpError("a fused 'prologue' node must hold a pointwise producer, then an op that streams an operand "
                + "(\(Ops.all.filter { $0.traits.contains(.streamsOperand) }.map(\.name))) (got \(names))")
        }
        (self.region, producer, consumer, self.operand) = (region, region.nodes[0], region.nodes[1], operand)
        guard Self.isPointwiseProducer(producer, in: region) else {
            throw OpError("a fused 'prologue' node's producer '\(producer.op.name)' is not pointwise over its result's shape")
        }
        let produced = producer.results[0]
        guard consumer.operands[operand] == produced, consumer.operands.filter({ $0 == produced }).count == 1 else {
            throw OpError("a fused 'prologue' node's producer must make the consumer's operand \(operand) and nothing else")
        }
        guard region.outputs.map(\.value) == consumer.results else {
            throw OpError("a fused 'prologue' node's results must be its consumer's")
        }
        producerFusion = try producer.region.map { r throws(OpError) in try ElementwiseFusion(region: r) }
    }

    /// The region argument a value read from outside comes from.
    public func argument(_ v: ValueID) -> Int { region.arguments.firstIndex { $0.value == v }! }
}
