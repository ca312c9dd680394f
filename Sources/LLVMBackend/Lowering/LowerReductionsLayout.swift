import GraphIR

extension Lowerings {
    static let reductions: [String: Lowering] = [
        "reduce_sum": .kernel { input in reductionPlan(input, axes: input.attributes.ints("axes"), average: false) },
        "reduce_mean": .kernel { input in reductionPlan(input, axes: input.attributes.ints("axes"), average: true) },
        "global_avg_pool": .kernel { input in reductionPlan(input, axes: [2, 3], average: true) },
    ]

    /// Each output element sums its reduced axes in f64 (reassociable, so it vectorises); the outer nest runs
    /// over the kept axes, which parallelise.
    static func reductionPlan(_ input: LoweringInput, axes: [Int], average: Bool) -> KernelPlan {
        let x = input.operands[0].shape
        let xStrides = Strides.rowMajor(x)
        let kept = x.indices.filter { !axes.contains($0) }
        let keptShape = kept.map { x[$0] }
        let outer = StridedNest(shape: keptShape, strides: [kept.map { xStrides[$0] }, Strides.rowMajor(keptShape)])
        let inner = StridedNest(shape: axes.map { x[$0] }, strides: [axes.map { xStrides[$0] }])
        let count = axes.reduce(1) { $0 * x[$1] }
        let name = "\(input.op.name)_\(KernelName.shape(x))_to_\(KernelName.shape(input.result.shape))"
        return KernelPlan(name: name, parallelCount: outer.parallelCount) { e in
            outer.emit(e) { offsets in
                let sum = e.variable(e.real(0, .f64))
                inner.emit(e, bases: [offsets[0]], restrictOuter: false) { inside in
                    sum.value = e.addReassociable(sum.value, e.convert(e.load(0, inside[0]), to: .f64))
                }
                e.store(average ? sum.value / Double(count) : sum.value, 1, offsets[1])
            }
        }
    }

    static let layout: [String: Lowering] = [
        "transpose": .kernel { input in
            let perm = input.attributes.ints("perm"), xStrides = Strides.rowMajor(input.operands[0].shape)
            return copyPlan(input, sourceStrides: perm.map { xStrides[$0] }, sourceOffset: 0)
        },
        "slice": .kernel { input in
            let starts = input.attributes.ints("starts"), xStrides = Strides.rowMajor(input.operands[0].shape)
            return copyPlan(input, sourceStrides: xStrides, sourceOffset: zip(starts, xStrides).reduce(0) { $0 + $1.0 * $1.1 })
        },
        "broadcast_to": .kernel { input in
            copyPlan(input, sourceStrides: Strides.broadcast(input.operands[0].shape, to: input.result.shape), sourceOffset: 0)
        },
        "concat": .kernel(concatPlan),
    ]

    /// result[i] = x[sourceOffset + Σ index · sourceStrides] over the result's shape.
    static func copyPlan(_ input: LoweringInput, sourceStrides: [Int], sourceOffset: Int) -> KernelPlan {
        let shape = input.result.shape
        let nest = StridedNest(shape: shape, strides: [sourceStrides, Strides.rowMajor(shape)])
        let name = "\(input.op.name)_\(KernelName.shape(input.operands[0].shape))_to_\(KernelName.shape(shape))"
        return KernelPlan(name: name, parallelCount: nest.parallelCount) { e in
            nest.emit(e, bases: [e.index(sourceOffset), e.index(0)]) { offsets in e.store(e.load(0, offsets[0]), 1, offsets[1]) }
        }
    }

    /// Each operand copied into its slab of the result; parallel over the axes before `axis`.
    static let concatPlan: @Sendable (LoweringInput) -> KernelPlan = { input in
        let axis = input.attributes.int("axis"), shape = input.result.shape
        let outer = shape[..<axis].reduce(1, *)
        let resultBlock = shape[axis...].reduce(1, *)
        let blocks = input.operands.map { $0.shape[axis...].reduce(1, *) }
        let resultIndex = input.operands.count
        return KernelPlan(name: "concat_\(KernelName.shape(shape))_axis\(axis)", parallelCount: outer) { e in
            e.loop(e.begin, e.end) { o in
                var offset = 0
                for (k, block) in blocks.enumerated() {
                    let source = o * block, destination = o * resultBlock + offset
                    e.loop(block) { i in e.store(e.load(k, source + i), resultIndex, destination + i) }
                    offset += block
                }
            }
        }
    }
}
