import GraphIR

/// Conv2dBlock's norms (networks.py): `in`, MUNIT's `ln`, `adain` (scale and shift from the style MLP) and
/// training-mode `bn`.
enum BlockNorm {
    case none, instance, layer, adain, batch

    init(_ norm: MUNITConfig.DiscriminatorNorm) {
        switch norm {
        case .none: self = .none
        case .instance: self = .instance
        case .layer: self = .layer
        case .batch: self = .batch
        }
    }
}

/// One AdaIN layer's per-sample scale and shift, [B, C] each, cut from the style MLP's output.
struct AdaINParameters {
    var weight: ValueID
    var bias: ValueID
}

/// An activation layer; PReLU owns its slope parameter (`….activation.weight`, shape [1]).
struct ActivationLayer {
    let kind: MUNITConfig.Activation
    let slope: ValueID?

    /// Declares the layer's parameter, if it has one, under `scope` (the block).
    init(_ kind: MUNITConfig.Activation, _ scope: Scope) {
        self.kind = kind
        slope = kind == .prelu ? scope.parameter("activation.weight", [1], .preluSlope) : nil
    }

    func apply(_ x: ValueID, _ b: GraphBuilder) throws -> ValueID {
        switch kind {
        case .relu: return try b.relu(x)
        case .lrelu: return try b.leakyRelu(x, slope: 0.2)
        case .prelu:
            guard let slope else { preconditionFailure("prelu without a slope parameter") }
            return try b.prelu(x, slope: slope)
        case .selu: return try b.selu(x)
        case .tanh: return try b.tanh(x)
        case .none: return x
        }
    }
}

/// A norm layer with its parameters: LayerNorm's γ, β; BatchNorm's γ, β and running statistics.
struct NormLayer {
    let kind: BlockNorm
    let scope: Scope
    private var gamma: ValueID?
    private var beta: ValueID?

    /// Declares the layer's parameters and buffers under `scope` (the block), in `state_dict` order.
    init(_ kind: BlockNorm, channels: Int, _ scope: Scope) {
        self.kind = kind
        self.scope = scope
        switch kind {
        case .none, .instance: break
        case .layer:
            gamma = scope.parameter("norm.gamma", [channels], .layerNormGamma)
            beta = scope.parameter("norm.beta", [channels], .layerNormBeta)
        case .adain:
            scope.context.declareBuffer(scope.name("norm.running_mean"), [channels], .adainRunningMean, scope.network)
            scope.context.declareBuffer(scope.name("norm.running_var"), [channels], .adainRunningVar, scope.network)
        case .batch:
            gamma = scope.parameter("norm.weight", [channels], .batchNormWeight)
            beta = scope.parameter("norm.bias", [channels], .batchNormBias)
            scope.context.declareBuffer(scope.name("norm.running_mean"), [channels], .batchNormRunningMean, scope.network)
            scope.context.declareBuffer(scope.name("norm.running_var"), [channels], .batchNormRunningVar, scope.network)
        }
    }

    func apply(_ x: ValueID, adain: AdaINParameters?) throws -> ValueID {
        let b = scope.builder
        switch kind {
        case .none: return x
        case .instance: return try b.instanceNorm(x)
        case .layer: return try b.layerNorm(x, gamma: required(gamma), beta: required(beta))
        case .adain:
            guard let adain else { throw MUNITGraphError("\(scope.prefix): AdaIN layer applied without style parameters") }
            return try b.adain(x, weight: adain.weight, bias: adain.bias)
        case .batch:
            // Over several ranks (a step's samples run as ranks of one sample each), spelled out: the op would
            // refuse a batch of 1 on 1×1 planes, and `sync-batch-statistics` all-reduces the statistics, which
            // the running statistics then reuse rather than reduce (and all-reduce) the batch again.
            guard scope.context.ranks == 1 else {
                var statistics: [ValueID] = []
                let y = try b.batchNormSpelledOut(x, gamma: required(gamma), beta: required(beta)) { statistics.append($0); return $0 }
                try updateRunningStatistics(x, mean: b.stopGradient(statistics[0]), biasedVariance: b.stopGradient(statistics[1]))
                return y
            }
            let input = try b.stopGradient(x)
            let mean = try b.reduceMean(input, axes: [0, 2, 3], keepdims: true)
            try updateRunningStatistics(x, mean: mean, biasedVariance: b.reduceMean(b.square(b.sub(input, mean)), axes: [0, 2, 3], keepdims: true))
            return try b.batchNorm(x, gamma: required(gamma), beta: required(beta))
        }
    }

    private func required(_ value: ValueID?) -> ValueID {
        guard let value else { preconditionFailure("norm parameter not declared") }
        return value
    }

    /// PyTorch's training-mode update: running ← 0.9 · running + 0.1 · batch statistic, the variance
    /// unbiased (divided by N·H·W − 1). From the batch's `mean` and `biasedVariance` ([1, C, 1, 1], without
    /// gradient, as PyTorch computes them).
    private func updateRunningStatistics(_ x: ValueID, mean: ValueID, biasedVariance: ValueID) throws {
        let b = scope.builder, context = scope.context
        let shape = b.shape(of: x)
        let count = shape[0] * shape[2] * shape[3] * context.ranks  // the whole batch's, when ranks share it
        let meanName = scope.name("norm.running_mean"), varName = scope.name("norm.running_var")
        guard let runningMean = context.currentBuffer(meanName), let runningVar = context.currentBuffer(varName) else {
            preconditionFailure("batch norm buffers of \(scope.prefix) not declared")
        }
        let unbiased = try b.scale(b.reshape(biasedVariance, to: [shape[1]]), by: Double(count) / Double(Swift.max(count - 1, 1)))
        let flatMean = try b.reshape(mean, to: [shape[1]])
        context.updateBuffer(meanName, try b.add(b.scale(runningMean, by: 0.9), b.scale(flatMean, by: 0.1)))
        context.updateBuffer(varName, try b.add(b.scale(runningVar, by: 0.9), b.scale(unbiased, by: 0.1)))
    }
}
