import Foundation
import GraphIR

/// Hyperparameters of `torch.optim.Adam`.
public struct AdamOptions: Sendable, Equatable {
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    /// L2 penalty added to the gradient (PyTorch's `weight_decay`, not AdamW's decoupled decay).
    public var weightDecay: Double

    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }
}

/// Turns a differentiated graph into an Adam training step, as `torch.optim.Adam` computes it:
/// g ← g + wd·p; m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)·g²;
/// p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps).
/// Moments are non-trainable parameters `optimizer.m.<p>` / `optimizer.v.<p>`; the learning rate and step
/// are scalar inputs; outputs `next.<name>` hold every updated parameter and moment.
public struct AdamPass: Pass {
    public static let name = "adam"
    public let summary = "append torch.optim.Adam's update of every differentiated parameter"
    public var options: AdamOptions

    public init(options: AdamOptions = AdamOptions()) { self.options = options }

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        let pairs = try differentiatedParameters(graph, pass: name)
        let b = GraphBuilder(graph: graph)
        let dtype = graph.type(of: pairs[0].parameter.value).dtype
        let lr = b.input(OptimizerNames.learningRate, TensorType(dtype, []))
        let step = b.input(OptimizerNames.step, TensorType(dtype, []))

        // The bias corrections are scalars that PyTorch computes in Python doubles: do the same in f64.
        let t = try b.cast(step, to: .f64)
        func biasCorrection(_ beta: Double) throws -> ValueID {  // 1 − βᵗ = 1 − exp(t · ln β)
            try b.shift(b.neg(b.exp(b.scale(t, by: Foundation.log(beta)))), by: 1)
        }
        let stepSize = try b.cast(b.div(b.cast(lr, to: .f64), biasCorrection(options.beta1)), to: dtype)
        let correction2Root = try b.cast(b.sqrt(biasCorrection(options.beta2)), to: dtype)

        for (parameter, rawGradient) in pairs {
            let p = parameter.value
            let type = graph.type(of: p)
            let m = b.parameter(OptimizerNames.state("m", parameter.name), type, trainable: false)
            let v = b.parameter(OptimizerNames.state("v", parameter.name), type, trainable: false)
            let g = try b.withWeightDecay(rawGradient, p, options.weightDecay)
            let nextM = try b.add(m, b.scale(b.sub(g, m), by: 1 - options.beta1))  // torch's lerp_
            let nextV = try b.add(b.scale(v, by: options.beta2), b.scale(b.square(g), by: 1 - options.beta2))
            let denominator = try b.shift(b.div(b.sqrt(nextV), correction2Root), by: options.epsilon)
            let nextP = try b.sub(p, b.mul(b.div(nextM, denominator), stepSize))
            b.output(OptimizerNames.next(parameter.name), nextP)
            b.output(OptimizerNames.next(OptimizerNames.state("m", parameter.name)), nextM)
            b.output(OptimizerNames.next(OptimizerNames.state("v", parameter.name)), nextV)
            statistics["parameters-updated"] += 1
        }
        return b.graph
    }
}
