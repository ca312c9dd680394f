extension Ops {
    /// A group of nodes that a fusion pass made into one (DESIGN.md, decision 6): the node holds the group as
    /// its region, so dumps show what fused, the interpreter runs the region, and the backend generates one
    /// kernel for it. `kind` names the fusion (`elementwise`, …) that the backend's lowering dispatches on.
    public static let fused = OpDefinition(
        name: "fused",
        summary: "a fused group: runs its region (arguments ← operands in order, outputs → results)",
        operands: .variadic("x", minimum: 0),
        attributes: [AttributeSpec("kind", .string)],
        traits: .fused,
        inferTypes: { _, _ throws(OpError) in
            throw OpError("'fused' takes its result types from its region; a fused node needs one")
        },
        kernel: { _, _, _ in preconditionFailure("fused nodes run their region (Interpreter.evaluate)") },
        cost: { _, _, _ in Cost(flops: 0, bytes: 0) })
}

/// What the fusion passes and the backend agree a fused kind may hold, in one place.
public enum FusionContract {
    /// Norms a `conv2d_epilogue` folds: statistics per (n, c) plane or per sample, so each group can be
    /// normalised as soon as the convolution has written it (not batch norm, whose groups span the batch).
    public static let epilogueNorms: Set<String> = ["instance_norm", "adain", "layer_norm"]
    /// Ops a `prologue` folds a pointwise producer into, with the operand it computes: ops whose kernels read
    /// that operand element by element.
    public static let prologueConsumers: [String: Int] = [
        "reduce_sum": 0, "reduce_mean": 0, "global_avg_pool": 0,
        "instance_norm_backward": 1, "layer_norm_backward": 1, "batch_norm_backward": 1,
    ]
}

extension Graph {
    /// The cost of a node: its op's rule, or for a fused node the sum of its region's nodes, with the bytes
    /// of the fused node's own operands and results (what stays in registers is not traffic).
    public func cost(of node: Node) -> Cost {
        guard let region = node.region else {
            return node.op.cost(node.operands.map { type(of: $0) }, node.results.map { type(of: $0) }, node.attributes)
        }
        let flops = region.nodes.reduce(0) { $0 + region.cost(of: $1).flops }
        let bytes = (node.operands + node.results).reduce(0) { $0 + type(of: $1).byteCount }
        return Cost(flops: flops, bytes: bytes)
    }
}
