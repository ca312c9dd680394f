import GraphIR

/// Fused nodes: the region's nodes evaluated per element inside one loop nest.
extension Lowerings {
    /// The fusion kinds the backend generates kernels for.
    static let fusedKinds: Set<String> = FusedConvolutionChain.kinds.union(["elementwise", "conv2d_epilogue", "conv2d_backward", "prologue"])

    static let fused: [String: Lowering] = [
        "fused": .kernel { input in
            let kind = input.attributes.string("kind")
            guard kind != "elementwise" else { return elementwiseRegionPlan(input) }
            if kind == "prologue" {
                guard let plan = (try? Prologue(region: input.region!))?.plan(input) else {
                    preconditionFailure("fused node of kind '\(kind)' was not checked")
                }
                return plan
            }
            if kind == "conv2d_epilogue" {
                guard let plan = (try? ConvolutionEpilogue(region: input.region!))?.plan(input) else {
                    preconditionFailure("fused node of kind '\(kind)' was not checked")
                }
                return plan
            }
            if kind == "conv2d_backward" {
                guard let plan = (try? ConvolutionBackward(region: input.region!))?.plan(input) else {
                    preconditionFailure("fused node of kind '\(kind)' was not checked")
                }
                return plan
            }
            // checkFused has parsed this region already.
            guard let chain = try? FusedConvolutionChain(kind: kind, region: input.region!) else {
                preconditionFailure("fused node of kind '\(kind)' was not checked")
            }
            return FusedConvolution.plan(input, chain)
        },
    ]

    /// Rejects fused nodes this backend cannot generate, naming the reason.
    static func checkFused(_ input: LoweringInput) throws(BackendError) {
        guard input.op.traits.contains(.fused) else { return }
        let kind = input.attributes.string("kind")
        guard fusedKinds.contains(kind), let region = input.region else {
            throw BackendError("the LLVM backend cannot generate fused nodes of kind '\(kind)' (it knows \(fusedKinds.sorted()))")
        }
        if kind == "conv2d_epilogue" {
            _ = try ConvolutionEpilogue(region: region)
            return
        }
        if kind == "prologue" {
            _ = try Prologue(region: region)
            return
        }
        if kind == "conv2d_backward" {
            _ = try ConvolutionBackward(region: region)
            return
        }
        if kind != "elementwise" {
            _ = try FusedConvolutionChain(kind: kind, region: region)
            return
        }
        for node in region.nodes where scalarFunctions[node.op.name] == nil && !node.op.traits.contains(.constant) {
            throw BackendError("an elementwise fused node contains '\(node.op.name)', which is not a pointwise op")
        }
        if Set(input.results.map(\.shape)).count != 1 {
            throw BackendError("an elementwise fused node's results must share one shape, got \(input.results.map(\.shape))")
        }
    }

    /// One nest over the results' shape; operands read with broadcast strides; every region value a scalar
    /// in registers, rounded to its dtype as the unfused kernels round their stores.
    static let elementwiseRegionPlan: @Sendable (LoweringInput) -> KernelPlan = { input in
        let region = input.region!
        let shape = input.results[0].shape
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
