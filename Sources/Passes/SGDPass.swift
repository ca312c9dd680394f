import GraphIR

/// Hyperparameters of `torch.optim.SGD` (dampening 0, no Nesterov).
public struct SGDOptions: Sendable, Equatable {
    public var momentum: Double
    public var weightDecay: Double
    public init(momentum: Double = 0, weightDecay: Double = 0) {
        self.momentum = momentum
        self.weightDecay = weightDecay
    }
}

/// Turns a differentiated graph into an SGD step: g ← g + wd·p; with momentum μ > 0, b ← μ·b + g and g ← b;
/// p ← p − lr·g. The momentum buffer (zero at the start, which makes the first step b = g as in PyTorch) is
/// the non-trainable parameter `optimizer.momentum.<p>`; outputs `next.<name>`.
public struct SGDPass: Pass {
    public static let name = "sgd"
    public let summary = "append torch.optim.SGD's update of every differentiated parameter"
    public var options: SGDOptions

    public init(options: SGDOptions = SGDOptions()) { self.options = options }

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        let pairs = try differentiatedParameters(graph, pass: name)
        let b = GraphBuilder(graph: graph)
        let lr = b.input(OptimizerNames.learningRate, TensorType(graph.type(of: pairs[0].parameter.value).dtype, []))
        for (parameter, rawGradient) in pairs {
            let p = parameter.value
            var g = try b.withWeightDecay(rawGradient, p, options.weightDecay)
            if options.momentum != 0 {
                let name = OptimizerNames.state("momentum", parameter.name)
                let buffer = b.parameter(name, graph.type(of: p), trainable: false)
                g = try b.add(b.scale(buffer, by: options.momentum), g)
                b.output(OptimizerNames.next(name), g)
            }
            b.output(OptimizerNames.next(parameter.name), try b.sub(p, b.mul(g, lr)))
            statistics["parameters-updated"] += 1
        }
        return b.graph
    }
}
