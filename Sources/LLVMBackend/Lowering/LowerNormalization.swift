import GraphIR

/// The norms and their gradients. Statistics are f64 sums over "groups" of runs: an (n, c) plane for
/// instance norm and AdaIN, a channel's N planes for batch norm, a whole sample for MUNIT's layer norm.
/// Groups are independent, so they are the parallel unit.
struct NormGroups {
    let groups: Int, runs: Int, length: Int
    /// Offset of run `r` of group `g`.
    let start: (IRValue, IRValue) -> IRValue
    var count: Int { runs * length }

    static func planes(_ x: [Int]) -> NormGroups {
        let plane = x[2] * x[3]
        return NormGroups(groups: x[0] * x[1], runs: 1, length: plane) { g, _ in g * plane }
    }
    static func channels(_ x: [Int]) -> NormGroups {
        let (c, plane) = (x[1], x[2] * x[3])
        return NormGroups(groups: c, runs: x[0], length: plane) { g, r in (r * c + g) * plane }
    }
    static func samples(_ x: [Int]) -> NormGroups {
        let sample = x.dropFirst().reduce(1, *)
        return NormGroups(groups: x[0], runs: 1, length: sample) { g, _ in g * sample }
    }

    /// Calls `body(offset)` for every element of group `g`.
    func forEach(_ e: KernelEmitter, _ g: IRValue, _ body: (IRValue) -> Void) {
        e.loop(runs) { r in
            let base = start(g, r)
            e.loop(length) { i in body(base + i) }
        }
    }

    /// Σ f(offset) over the group, in f64.
    func sum(_ e: KernelEmitter, _ g: IRValue, _ f: (IRValue) -> IRValue) -> IRValue {
        let total = e.variable(e.real(0, .f64))
        forEach(e, g) { i in total.value = e.addReassociable(total.value, f(i)) }
        return total.value
    }

    /// The group's mean and Σ (x − mean)² of buffer `x` (two passes, as the interpreter computes them).
    func moments(_ e: KernelEmitter, _ g: IRValue, x: Int) -> (mean: IRValue, squares: IRValue) {
        let mean = sum(e, g) { e.convert(e.load(x, $0), to: .f64) } / Double(count)
        let squares = sum(e, g) { i in
            let d = e.convert(e.load(x, i), to: .f64) - mean
            return d * d
        }
        return (mean, squares)
    }
}

extension Lowerings {
    static func normName(_ input: LoweringInput) -> String { "\(input.op.name)_\(KernelName.shape(input.operands[0].shape))" }

    static let normalization: [String: Lowering] = [
        "instance_norm": .kernel { input in standardizePlan(input, .planes(input.operands[0].shape), affine: nil) },
        "adain": .kernel { input in standardizePlan(input, .planes(input.operands[0].shape), affine: (1, 2)) },
        "batch_norm": .kernel { input in standardizePlan(input, .channels(input.operands[0].shape), affine: (1, 2)) },
        "layer_norm": .kernel(layerNormPlan),
        "instance_norm_backward": .kernel { input in standardizeBackwardPlan(input, .planes(input.operands[0].shape)) },
        "batch_norm_backward": .kernel { input in standardizeBackwardPlan(input, .channels(input.operands[0].shape)) },
        "layer_norm_backward": .kernel(layerNormBackwardPlan),
    ]

    /// (x − mean) / √(var + eps), biased variance, then `· scale[g] + shift[g]` when `affine` names those
    /// operands (AdaIN's per-plane weight and bias, batch norm's per-channel gamma and beta).
    static func standardizePlan(_ input: LoweringInput, _ groups: NormGroups, affine: (Int, Int)?) -> KernelPlan {
        let eps = input.attributes.float("eps"), out = input.operands.count
        return KernelPlan(name: normName(input), parallelCount: groups.groups) { e in
            e.loop(e.begin, e.end) { g in
                let (mean, squares) = groups.moments(e, g, x: 0)
                var scale = 1.0 / e.intrinsic("llvm.sqrt", [squares / Double(groups.count) + eps])
                var shift = -mean * scale
                if let (w, b) = affine {
                    let weight = e.convert(e.load(w, g), to: .f64)
                    scale = scale * weight
                    shift = shift * weight + e.convert(e.load(b, g), to: .f64)
                }
                groups.forEach(e, g) { i in e.store(e.convert(e.load(0, i), to: .f64) * scale + shift, out, i) }
            }
        }
    }

    /// MUNIT's LayerNorm: per sample, unbiased std with eps added to it, then per-channel gamma and beta.
    static let layerNormPlan: @Sendable (LoweringInput) -> KernelPlan = { input in
        let x = input.operands[0].shape, eps = input.attributes.float("eps")
        let groups = NormGroups.samples(x)
        let channels = x[1], channelSize = groups.length / channels
        return KernelPlan(name: normName(input), parallelCount: groups.groups) { e in
            e.loop(e.begin, e.end) { n in
                let (mean, squares) = groups.moments(e, n, x: 0)
                let inv = 1.0 / (e.intrinsic("llvm.sqrt", [squares / Double(groups.count - 1)]) + eps)
                e.loop(channels) { c in
                    let scale = inv * e.convert(e.load(1, c), to: .f64)
                    let shift = e.convert(e.load(2, c), to: .f64) - mean * scale
                    let base = (n * channels + c) * channelSize
                    e.loop(channelSize) { i in e.store(e.convert(e.load(0, base + i), to: .f64) * scale + shift, 3, base + i) }
                }
            }
        }
    }

    /// gx = r · (gy − mean(gy) − x̂ · mean(gy · x̂)) with r = 1/√(var + eps).
    static func standardizeBackwardPlan(_ input: LoweringInput, _ groups: NormGroups) -> KernelPlan {
        let eps = input.attributes.float("eps")
        return KernelPlan(name: normName(input), parallelCount: groups.groups) { e in
            e.loop(e.begin, e.end) { g in
                let (mean, squares) = groups.moments(e, g, x: 0)
                let r = 1.0 / e.intrinsic("llvm.sqrt", [squares / Double(groups.count) + eps])
                let meanG = groups.sum(e, g) { e.convert(e.load(1, $0), to: .f64) } / Double(groups.count)
                let meanGXHat = groups.sum(e, g) { i in
                    e.convert(e.load(1, i), to: .f64) * (e.convert(e.load(0, i), to: .f64) - mean)
                } * r / Double(groups.count)
                groups.forEach(e, g) { i in
                    let xHat = (e.convert(e.load(0, i), to: .f64) - mean) * r
                    e.store(r * (e.convert(e.load(1, i), to: .f64) - meanG - xHat * meanGXHat), 2, i)
                }
            }
        }
    }

    /// gx = (gy − mean(gy))/(σ + eps) − (x − mean) · Σ gy·(x − mean) / ((σ + eps)² (n − 1) σ), σ unbiased.
    static let layerNormBackwardPlan: @Sendable (LoweringInput) -> KernelPlan = { input in
        let groups = NormGroups.samples(input.operands[0].shape), eps = input.attributes.float("eps")
        let n = Double(groups.count)
        return KernelPlan(name: normName(input), parallelCount: groups.groups) { e in
            e.loop(e.begin, e.end) { g in
                let (mean, squares) = groups.moments(e, g, x: 0)
                let sigma = e.intrinsic("llvm.sqrt", [squares / (n - 1)])
                let s = sigma + eps
                let meanG = groups.sum(e, g) { e.convert(e.load(1, $0), to: .f64) } / n
                let sumGD = groups.sum(e, g) { i in
                    e.convert(e.load(1, i), to: .f64) * (e.convert(e.load(0, i), to: .f64) - mean)
                }
                let coefficient = e.select(sigma.greaterThan(0), sumGD / (s * s * (n - 1) * sigma), e.real(0, .f64))
                groups.forEach(e, g) { i in
                    let d = e.convert(e.load(0, i), to: .f64) - mean
                    e.store((e.convert(e.load(1, i), to: .f64) - meanG) / s - d * coefficient, 2, i)
                }
            }
        }
    }
}
