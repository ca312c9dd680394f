import GraphIR

/// Where a per-channel constant added to a norm's input cancels: instance norm and AdaIN subtract each
/// (sample, channel) plane's mean, batch norm each channel's mean over (sample, H, W), and their backward
/// ops see x only through x̂. So conv2d(x, w, bias) feeding only these computes the same as conv2d(x, w)
/// (MUNIT's Conv2dBlocks with `in`/`adain`: the bias is a parameter that does nothing). The same structure
/// makes the bias gradient zero: it is Σ over (N, H, W) of the norm backward's result, which sums to zero
/// over the normalised axes.
enum NormCancelledBias {
    /// (op, operand position) pairs whose result does not change when a per-channel constant (axis 1) is
    /// added to that operand. Layer norm is not here: it normalises over all channels at once.
    static func cancelsChannelShift(_ op: OpDefinition, operand: Int) -> Bool {
        operand == 0 && [Ops.instanceNorm, Ops.adain, Ops.batchNorm, Ops.instanceNormBackward, Ops.batchNormBackward]
            .contains { $0 === op }
    }

    /// The axes over which every result of `op` sums to zero: instance norm's backward over each plane (H, W),
    /// batch norm's backward over each channel's (N, H, W). (gx = (gy − mean(gy) − x̂·mean(gy·x̂))/σ, and
    /// both x̂ and gy − mean(gy) have zero mean there.)
    static func zeroSumAxes(of op: OpDefinition) -> Set<Int>? {
        if op === Ops.instanceNormBackward { return [2, 3] }
        if op === Ops.batchNormBackward { return [0, 2, 3] }
        return nil
    }

    /// Indices of the conv2d nodes with a bias whose result only feeds operands that cancel a per-channel
    /// shift (and is not a graph output).
    static func convolutions(in graph: Graph) -> Set<Int> {
        var cancels = [Bool](repeating: true, count: graph.values.count)
        for output in graph.outputs { cancels[output.value.index] = false }
        for node in graph.nodes {
            for (position, operand) in node.operands.enumerated() where !cancelsChannelShift(node.op, operand: position) {
                cancels[operand.index] = false
            }
        }
        // A conv result nobody uses is dead code, not a cancelled bias; that is dce's business.
        let uses = graph.useCounts()
        return Set(graph.nodes.indices.filter { index in
            let node = graph.nodes[index]
            return node.op === Ops.conv2d && node.operands.count == 3 && cancels[node.result.index] && uses[node.result.index] > 0
        })
    }
}
