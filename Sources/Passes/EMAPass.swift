import Foundation
import GraphIR

/// Appends an exponential moving average of every parameter an optimiser pass updated (imaginaire's
/// `ModelAverage`): `next.ema.<p> = β · ema.<p> + (1 − β) · next.<p>`, with β the scalar input `ema.beta`
/// (the trainer gives 0 before averaging starts, which copies the parameters exactly). The update is
/// pointwise on the optimiser's own result, so the fusion passes put it in the same kernel.
public struct EMAPass: Pass {
    public static let name = "ema"
    public let summary = "append a moving average (ema.<p>, decay input ema.beta) of every optimised parameter"

    public init() {}

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        let updated = graph.parameters.compactMap { argument -> (GraphArgument, ValueID)? in
            guard argument.isTrainable, let next = graph.output(named: OptimizerNames.next(argument.name)) else { return nil }
            return (argument, next.value)
        }
        guard !updated.isEmpty else {
            throw PassError(pass: Self.name, "the graph has no `next.<parameter>` outputs; run an optimiser pass (adam, sgd) first")
        }
        guard graph.argument(named: OptimizerNames.emaBeta) == nil else {
            throw PassError(pass: Self.name, "the graph already has an argument '\(OptimizerNames.emaBeta)'; was ema added twice?")
        }
        let b = GraphBuilder(graph: graph)
        let beta = b.input(OptimizerNames.emaBeta, TensorType(graph.type(of: updated[0].1).dtype, []))
        let keep = try b.shift(b.neg(beta), by: 1)
        for (parameter, next) in updated {
            let average = b.parameter(OptimizerNames.ema(parameter.name), graph.type(of: parameter.value), trainable: false)
            b.output(OptimizerNames.next(OptimizerNames.ema(parameter.name)), try b.add(b.mul(average, beta), b.mul(next, keep)))
            statistics["parameters-averaged"] += 1
        }
        return b.graph
    }
}
