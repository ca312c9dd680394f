import GraphIR

/// Fused `conv2d_epilogue` nodes (`fuse-conv-epilogue`): the region's first node is a convolution (`conv2d`
/// or a fused convolution chain), lowered as usual onto this kernel's buffers; then one pass per
/// normalisation group (an (n, c) plane; a sample for MUNIT's layer norm) writes norm → activation →
/// residual add, storing each value another node reads. Where the convolution's own code writes the output
/// plane by plane (Winograd, wide grid, gathered), each plane's Σx and Σx² (f64) accumulate in that store:
/// a plane norm's epilogue follows on the cache-hot plane, the layer norm adds its sample's per-plane sums.
/// Where BLAS writes the output, the epilogue first takes the group's moments in a pass of its own. Values
/// are rounded to their dtype where the unfused kernels store them.
struct ConvolutionEpilogue {
    let fusion: ConvolutionEpilogueFusion

    init(_ fusion: ConvolutionEpilogueFusion) { self.fusion = fusion }

    var region: Graph { fusion.region }
    var convolution: Node { fusion.convolution }
    var norm: (node: Node, kind: ConvolutionEpilogueFusion.Norm)? { fusion.norm }

    /// The convolution as a node of its own (a gathered chain's region already read).
    var convolutionInput: LoweringInput {
        LoweringInput(convolution, in: region, matched: fusion.gathered.map { .gatheredConvolution($0) })
    }

    /// The kernel buffer of the fused node's result that stores `node`'s value, if anything reads it.
    func stored(_ node: Node?, operands: Int) -> Int? {
        node.flatMap { fusion.storedResult($0.results[0]) }.map { operands + $0 }
    }

    func plan(_ input: LoweringInput) -> KernelPlan {
        let conv = convolution, convInput = convolutionInput
        guard case .kernel(let lowerConvolution) = try? Lowerings.lowering(for: conv.op) else {
            preconditionFailure("a convolution always has a kernel")
        }
        let convPlan = lowerConvolution(convInput)
        let (operands, results) = (input.operands.count, input.results.count)
        let scratchBase = operands + results
        // The convolution's output: one of the fused node's results if something reads it, else scratch.
        let y = stored(conv, operands: operands) ?? scratchBase + convPlan.scratch.count
        var scratch = convPlan.scratch
        if fusion.storedResult(conv.results[0]) == nil { scratch.append(convInput.result) }
        let k = conv.operands.count
        let map = Array(0..<k) + [y] + convPlan.scratch.indices.map { scratchBase + $0 }
        var phases = convPlan.phases.map { $0.remapped(map) }
        // A convolution whose last phase writes the output plane by plane (Winograd's output transform, the
        // wide grid's compaction, the gathered convolution's store) hands each plane straight to the
        // epilogue, and Σx, Σx² accumulate as the plane is written: the epilogue's pass normalises. The
        // layer norm's groups are samples: each plane's sums go to scratch, and the epilogue adds a sample's.
        let planes = NormGroups.planes(region.type(of: convolution.results[0]).shape).groups
        let isLayerNorm = norm?.kind.perSample == true
        if let last = phases.last, !last.usesBLAS, last.parallelCount == planes, !isLayerNorm {
            let observes = norm != nil && last.storesEachPlaneOnce
            let moments = ObservedMoments()
            let epilogue = epiloguePhase(y: y, operands: operands, dtype: input.dtype, moments: observes ? .observed(moments) : .pass)
            phases[phases.count - 1] = KernelPhase(suffix: last.suffix + "_epilogue", parallelCount: last.parallelCount) { e in
                let ySlot = e.slot(y)
                e.loop(e.begin, e.end) { plane in
                    e.range = (plane, plane + 1)
                    if observes { moments.sums = Self.emitObserving(e, last, output: ySlot) } else { last.emit(e) }
                    epilogue.emit(e)
                    e.range = nil
                }
            }
        } else if let last = phases.last, !last.usesBLAS, last.parallelCount == planes, isLayerNorm, last.storesEachPlaneOnce {
            let partials = scratchBase + scratch.count
            scratch.append(TensorType(.f64, [planes, 2]))
            phases[phases.count - 1] = KernelPhase(suffix: last.suffix + "_moments", parallelCount: last.parallelCount) { e in
                let ySlot = e.slot(y)
                e.loop(e.begin, e.end) { plane in
                    e.range = (plane, plane + 1)
                    let (sum, squares) = Self.emitObserving(e, last, output: ySlot)
                    e.store(sum, partials, plane * 2)
                    e.store(squares, partials, plane * 2 + 1)
                    e.range = nil
                }
            }
            phases.append(epiloguePhase(y: y, operands: operands, dtype: input.dtype, moments: .partials(partials)))
        } else {
            phases.append(epiloguePhase(y: y, operands: operands, dtype: input.dtype, moments: .pass))
        }
        let parts = [norm?.node, fusion.activation, fusion.residualAdd].compactMap { $0?.op.name }
        return KernelPlan(name: convPlan.name + "_" + parts.joined(separator: "_"), scratch: scratch, phases: phases)
    }

    /// Σx and Σx² of the plane being emitted, taken while the convolution stored it.
    final class ObservedMoments {
        var sums: (IRValue, IRValue)?
    }

    /// Where the epilogue's moments come from: a pass over the group, the plane's store just emitted, or
    /// per-plane sums in a scratch buffer [planes, 2] (the layer norm adds a sample's planes).
    enum MomentsSource { case pass, observed(ObservedMoments), partials(Int) }

    /// Emits `phase` (one plane) while accumulating Σx and Σx² (f64) of what it stores into kernel buffer
    /// `output`; returns the two sums.
    static func emitObserving(_ e: KernelEmitter, _ phase: KernelPhase, output: Int) -> (IRValue, IRValue) {
        let (sum, squares) = (e.variable(e.real(0, .f64)), e.variable(e.real(0, .f64)))
        e.storeObserver = { slot, value in
            guard slot == output else { return }
            let x = e.convert(value, to: .f64)
            sum.value = e.addReassociable(sum.value, x)
            squares.value = e.addReassociable(squares.value, x * x)
        }
        phase.emit(e)
        e.storeObserver = nil
        return (sum.value, squares.value)
    }

    /// Per group: moments (when normalising; from `observed` when the convolution's store took them), then
    /// each element through norm, activation and residual add.
    func epiloguePhase(y: Int, operands: Int, dtype: DType, moments source: MomentsSource) -> KernelPhase {
        let shape = region.type(of: convolution.results[0]).shape
        let normKind = norm?.kind
        let groups = normKind?.perSample == true ? NormGroups.samples(shape) : NormGroups.planes(shape)
        let eps = norm?.node.attributes.float("eps") ?? 0
        let channels = shape[1], plane = shape[2] * shape[3]
        let normOut = stored(norm?.node, operands: operands)
        let activationOut = stored(fusion.activation, operands: operands)
        let sumOut = stored(fusion.residualAdd, operands: operands)
        let residual = fusion.residualAdd.map { fusion.argument($0.operands[1]) }
        let activation = fusion.activation
        let activationFunction = activation.map { Lowerings.scalarFunctions[$0.op.name]! }
        let activationAttributes = activation?.attributes ?? [:]

        return KernelPhase(suffix: "_epilogue", parallelCount: groups.groups) { e in
            // Element i given the group's scale and shift (nil: no norm).
            func finish(_ i: IRValue, _ scale: IRValue?, _ shift: IRValue?) {
                var value = e.load(y, i)
                if let scale, let shift {
                    value = e.convert(e.convert(value, to: .f64) * scale + shift, to: dtype)
                    if let normOut { e.store(value, normOut, i) }
                }
                if let activationFunction {
                    value = e.convert(activationFunction(e, [value], activationAttributes), to: dtype)
                    if let activationOut { e.store(value, activationOut, i) }
                }
                if let residual {
                    value = value + e.load(residual, i)
                    if let sumOut { e.store(value, sumOut, i) }
                }
            }
            e.loop(e.begin, e.end) { g in
                guard let normKind else {
                    groups.forEach(e, g) { finish($0, nil, nil) }
                    return
                }
                // From sums: Σ(x − mean)² = Σx² − n·mean², never below 0 for rounding's sake. In f64 over
                // float32 values this loses digits only when |mean| exceeds the spread by ~10⁶, far beyond
                // what a convolution's output shows; the two-pass moments would cost a pass over memory.
                func fromSums(_ sum: IRValue, _ sumOfSquares: IRValue) -> (IRValue, IRValue) {
                    let mean = sum / Double(groups.count)
                    return (mean, e.max(sumOfSquares - mean * mean * Double(groups.count), e.real(0, .f64)))
                }
                let (mean, squares): (IRValue, IRValue)
                switch source {
                case .pass: (mean, squares) = groups.moments(e, g, x: y)
                case .observed(let observed): (mean, squares) = fromSums(observed.sums!.0, observed.sums!.1)
                case .partials(let partials):
                    // A sample's planes are consecutive: g·channels ..< (g + 1)·channels.
                    let (sum, sumOfSquares) = (e.variable(e.real(0, .f64)), e.variable(e.real(0, .f64)))
                    e.loop(channels) { c in
                        let plane = g * channels + c
                        sum.value = sum.value + e.load(partials, plane * 2)
                        sumOfSquares.value = sumOfSquares.value + e.load(partials, plane * 2 + 1)
                    }
                    (mean, squares) = fromSums(sum.value, sumOfSquares.value)
                }
                if case .layer(let gammaValue, let betaValue) = normKind {
                    // MUNIT's LayerNorm: unbiased std, eps added to it, per-channel gamma and beta.
                    let inv = 1.0 / (e.intrinsic("llvm.sqrt", [squares / Double(groups.count - 1)]) + eps)
                    let (gamma, beta) = (fusion.argument(gammaValue), fusion.argument(betaValue))
                    e.loop(channels) { c in
                        let scale = inv * e.convert(e.load(gamma, c), to: .f64)
                        let shift = e.convert(e.load(beta, c), to: .f64) - mean * scale
                        let base = (g * channels + c) * plane
                        e.loop(plane) { i in finish(base + i, scale, shift) }
                    }
                    return
                }
                var scale = 1.0 / e.intrinsic("llvm.sqrt", [squares / Double(groups.count) + eps])
                var shift = -mean * scale
                if case .adain(let weightValue, let biasValue) = normKind {
                    let w = e.convert(e.load(fusion.argument(weightValue), g), to: .f64)
                    scale = scale * w
                    shift = shift * w + e.convert(e.load(fusion.argument(biasValue), g), to: .f64)
                }
                groups.forEach(e, g) { finish($0, scale, shift) }
            }
        }
    }
}
