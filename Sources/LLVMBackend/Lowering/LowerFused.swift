import GraphIR

/// Fused nodes: one switch over the kinds' descriptions (`FusedRegion`), each region read once, where its
/// `LoweringInput` was made.
extension Lowerings {
    static let fused: [String: Lowering] = [
        Ops.fused.name: .kernel { input in
            switch input.fused {
            case .elementwise(let fusion): return elementwiseRegionPlan(input, fusion)
            case .prologue(let fusion): return Prologue(fusion).plan(input)
            case .gatheredConvolution(let chain): return FusedConvolution.plan(input, FusedConvolutionChain(chain))
            case .convolutionEpilogue(let fusion): return ConvolutionEpilogue(fusion).plan(input)
            case .convolutionBackward(let fusion): return ConvolutionBackward(fusion).plan(input)
            }
        },
    ]

    /// Rejects fused nodes this backend cannot generate, naming the reason: a region its kind's grammar does
    /// not match. (Every op a grammar admits has a kernel: `CompilerTests` checks the table.)
    static func checkFused(_ input: LoweringInput) throws(BackendError) {
        if case .failure(let error)? = input.fusion { throw BackendError(error.message) }
    }

    /// One nest over the results' shape; operands read with broadcast strides; every region value a scalar
    /// in registers, rounded to its dtype as the unfused kernels round their stores.
    static func elementwiseRegionPlan(_ input: LoweringInput, _ fusion: ElementwiseFusion) -> KernelPlan {
        let region = fusion.region, shape = fusion.shape
        let strides = input.operands.map { Strides.broadcast($0.shape, to: shape) } + input.results.map { _ in Strides.rowMajor(shape) }
        let nest = StridedNest(shape: shape, strides: strides)
        let operandCount = input.operands.count
        var opNames: [String] = []
        for node in region.nodes where !node.op.traits.contains(.constant) && !opNames.contains(node.op.name) { opNames.append(node.op.name) }
        let name = "fused_" + opNames.prefix(4).joined(separator: "_") + (opNames.count > 4 ? "_etc" : "") + "_\(KernelName.shape(shape))"
        return KernelPlan(name: name, parallelCount: nest.parallelCount) { e in
            nest.emit(e) { offsets in
                let values = evaluate(e, region) { k in e.load(k, offsets[k]) }
                for (j, value) in values.enumerated() { e.store(value, operandCount + j, offsets[operandCount + j]) }
            }
        }
    }

    /// A pointwise region's outputs at one element, given its arguments' values there: every value a
    /// scalar in registers, rounded to its dtype as the unfused kernels round their stores.
    static func evaluate(_ e: KernelEmitter, _ region: Graph, argument: (Int) -> IRValue) -> [IRValue] {
        var values: [Int: IRValue] = [:]
        for (k, a) in region.arguments.enumerated() { values[a.value.index] = argument(k) }
        for node in region.nodes {
            let dtype = region.type(of: node.results[0]).dtype
            if node.op.traits.contains(.constant) {
                values[node.results[0].index] = e.real(node.attributes.float("value"), dtype)
            } else {
                values[node.results[0].index] = e.convert(scalarFunctions[node.op.name]!(e, node.operands.map { values[$0.index]! }, node.attributes), to: dtype)
            }
        }
        return region.outputs.map { values[$0.value.index]! }
    }
}
