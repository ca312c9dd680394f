import GraphIR

/// Fused `prologue` nodes (`fuse-prologue`): a pointwise producer (one op, or a fused elementwise node)
/// folded into the reduction or norm gradient that alone reads it. The consumer is lowered as usual; its
/// loads of that operand compute the producer's value at the element instead (`KernelEmitter.computed`),
/// so the intermediate tensor is never written or read back. Values are rounded as the unfused kernels
/// round their stores: results are bit for bit the unfused ones.
struct Prologue {
    let fusion: PrologueFusion

    init(_ fusion: PrologueFusion) { self.fusion = fusion }

    func plan(_ input: LoweringInput) -> KernelPlan {
        let (region, producer, consumer, operand) = (fusion.region, fusion.producer, fusion.consumer, fusion.operand)
        guard case .kernel(let lowerConsumer) = try? Lowerings.lowering(for: consumer.op) else {
            preconditionFailure("every op a prologue streams has a kernel")
        }
        let inner = lowerConsumer(LoweringInput(consumer, in: region))
        let (operands, results) = (input.operands.count, input.results.count)
        // The folded operand's slot is never read (its loads are computed); map it anywhere valid.
        let map = consumer.operands.enumerated().map { j, v in j == operand ? 0 : fusion.argument(v) }
            + (0..<results).map { operands + $0 } + inner.scratch.indices.map { operands + results + $0 }
        let producerArguments = producer.operands.map { (fusion.argument($0), region.type(of: $0).elementCount == 1) }
        let producerRegion = fusion.producerFusion?.region
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
