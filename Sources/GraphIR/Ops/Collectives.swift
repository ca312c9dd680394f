/// Collectives: values exchanged between the ranks of a data-parallel job (DESIGN decision 14).
extension Ops {
    /// Each operand reduced element by element across the ranks; every rank gets the same results. Several
    /// operands make one message (a bucket of gradients, as PyTorch DDP groups them).
    public static let allReduce: OpDefinition = {
        let operands = OperandSpec.variadic("x", minimum: 1)
        return OpDefinition(
            name: "all_reduce",
            summary: "each x summed (or averaged) element by element over the `ranks` ranks of the job",
            operands: operands,
            attributes: [
                AttributeSpec("operation", .string, check: Check.oneOf(ReduceOperation.allCases.map(\.rawValue))),
                AttributeSpec("ranks", .int, check: Check.int(minimum: 1)),
            ],
            traits: .collective,
            inferTypes: { types, _ throws(OpError) in
                try operands.require(types, op: "all_reduce")
                _ = try ShapeRules.commonDType(types, op: "all_reduce")
                return types
            },
            kernel: { inputs, attrs, results in
                // One message for all operands, as the compiled runtime sends a bucket.
                let communicator = Collectives.current
                let ranks = attrs.int("ranks")
                precondition(communicator.size == ranks,
                             "all_reduce for \(ranks) ranks run by a communicator of \(communicator.size) (Interpreter.run checks this)")
                let operation = ReduceOperation(rawValue: attrs.string("operation"))!
                let reduced: [Double]
                do { reduced = try communicator.allReduce(inputs.flatMap(\.scalars), operation, dtype: results[0].dtype) }
                catch { fatalError("all_reduce on rank \(communicator.rank): \(error)") }
                var offset = 0
                return results.map { type in
                    defer { offset += type.elementCount }
                    return Tensor(type, scalars: Array(reduced[offset..<offset + type.elementCount]))
                }
            },
            cost: { operands, results, attrs in
                Cost(flops: Cost.saturatingSum(operands.map(\.elementCount)),
                     bytes: allReduceTrafficBytes(Cost.bytes(operands), ranks: attrs.int("ranks")))
            },
            vjp: { ctx in
                // x_r feeds y on every rank, so ∂(Σ_r L_r)/∂x_r = Σ_r ∂L_r/∂y: the same reduction of the upstream
                // gradients (averaged for a mean). Gradients that do not exist stay out of the message; which
                // ones exist is the same on every rank, as the graphs are.
                let present = ctx.upstream.enumerated().compactMap { i, g in g.map { (i, $0) } }
                guard !present.isEmpty else { return ctx.operands.map { _ in nil } }
                let reduced = try ctx.builder.applyMulti(Ops.allReduce, present.map(\.1), ctx.attributes)
                var gradients = [ValueID?](repeating: nil, count: ctx.operands.count)
                for ((i, _), g) in zip(present, reduced) { gradients[i] = g }
                return gradients
            })
    }()

    static let collectiveOps: [OpDefinition] = [allReduce]

    /// Bytes each rank sends (and receives) in a ring all-reduce of `payload` bytes over `ranks` ranks:
    /// 2(N − 1)/N × payload (a reduce-scatter, then an all-gather).
    public static func allReduceTrafficBytes(_ payload: Int, ranks: Int) -> Int {
        guard ranks > 1 else { return 0 }
        // In Double, saturating: a cost is an estimate, and absurd attributes must not trap.
        let bytes = 2 * Double(ranks - 1) / Double(ranks) * Double(payload)
        return bytes < Double(Int.max) ? Int(bytes) : Int.max
    }
}

extension GraphBuilder {
    /// `values` reduced across `ranks` ranks in one message.
    public func allReduce(_ values: [ValueID], _ operation: ReduceOperation, ranks: Int) throws -> [ValueID] {
        try applyMulti(Ops.allReduce, values, ["operation": .string(operation.rawValue), "ranks": .int(ranks)])
    }
}
