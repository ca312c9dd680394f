import GraphIR

/// Fused `prologue` nodes (`fuse-prologue`): a pointwise producer (one op, or a fused elementwise node)
/// folded into the reduction or norm gradient that alone reads it. The consumer is lowered as usual; its
/// loads of that operand compute the producer's value at the element instead (`KernelEmitter.computed`),
/// so the intermediate tensor is never written or read back. Values are rounded as the unfused kernels
/// round their stores: results are bit for bit the unfused ones.
struct Prologue {
    let producer: Node, consumer: Node, region: Graph
    /// The consumer operand the producer computes.
    let operand: Int

    init(region: Graph) throws(BackendError) {
        let names = region.nodes.map(\.op.name)
        guard region.nodes.count == 2, let operand = FusionContract.prologueConsumers[names[1]] else {
            throw BackendError("a fused 'prologue' node must hold a pointwise producer, then one of "
                + "\(FusionContract.prologueConsumers.keys.sorted()) (got \(names))")
        }
        (producer, consumer, self.region, self.operand) = (region.nodes[0], region.nodes[1], region, operand)
        let produced = producer.results.count == 1 ? producer.results[0] : nil
        guard let produced, consumer.operands[operand] == produced, consumer.operands.filter({ $0 == produced }).count == 1 else {
            throw BackendError("a fused 'prologue' node's producer must make the consumer's operand \(operand) and nothing else")
        }
        let pointwise = producer.region.map { r in r.nodes.allSatisfy { Lowerings.scalarFunctions[$0.op.name] != nil || $0.op.traits.contains(.constant) } }
            ?? (Lowerings.scalarFunctions[producer.op.name] != nil)
        guard pointwise else { throw BackendError("a fused 'prologue' node's producer '\(producer.op.name)' is not pointwise") }
        let shape = region.type(of: produced).shape
        for v in producer.operands where region.type(of: v).shape != shape && region.type(of: v).elementCount != 1 {
            throw BackendError("a fused 'prologue' producer's operands must have its shape \(shape) or one element, got \(region.type(of: v).shape)")
        }
        guard case .kernel(let lower) = try Lowerings.lowering(for: consumer.op) else {
            throw BackendError("'\(consumer.op.name)' has no kernel to fold a producer into")
        }
        lowerConsumer = lower
    }

    func argument(_ v: ValueID) -> Int { region.arguments.firstIndex { $0.value == v }! }

    /// The consumer's lowering (checked in `init`).
    private var lowerConsumer: @Sendable (LoweringInput) -> KernelPlan

    func plan(_ input: LoweringInput) -> KernelPlan {
        let consumerInput = LoweringInput(consumer, in: region)
        let inner = lowerConsumer(consumerInput)
        let (operands, results) = (input.operands.count, input.results.count)
        // The folded operand's slot is never read (its loads are computed); map it anywhere valid.
        let map = consumer.operands.enumerated().map { j, v in j == operand ? 0 : argument(v) }
            + (0..<results).map { operands + $0 } + inner.scratch.indices.map { operands + results + $0 }
        let producerArguments = producer.operands.map { (argument($0), region.type(of: $0).elementCount == 1) }
        let producerRegion = producer.region
        let producerNode = producer, folded = operand
        let phases = inner.phases.map { phase -> KernelPhase in
            var wrapped = phase.remapped(map)
            let emit = wrapped.emit
            wrapped.emit = { e in
                e.computed = [folded: { i in
                    let load = { (k: Int) in e.load(producerArguments[k].0, producerArguments[k].1 ? e.index(0) : i) }
                    if let producerRegion { return Lowerings.evaluate(e, producerRegion, argument: load)[0] }
                    let value = Lowerings.scalarFunctions[producerNode.op.name]!(e, producerArguments.indices.map(load), producerNode.attributes)
                    return e.convert(value, to: region.type(of: producerNode.results[0]).dtype)
                }]
                emit(e)
                e.computed = [:]
            }
            return wrapped
        }
        let producerName = producer.region.map { r in r.nodes.first { !$0.op.traits.contains(.constant) }?.op.name ?? "fused" } ?? producer.op.name
        return KernelPlan(name: "\(producerName)_into_\(inner.name)", scratch: inner.scratch, phases: phases)
    }
}
