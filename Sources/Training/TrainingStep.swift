import GraphIR
import Passes

/// One run of a training step graph, as replay and training both drive it: arguments from `state`
/// (parameters, buffers, optimiser state), `optimizer.lr` and the 1-based `optimizer.step` from the
/// schedule, every other argument from `input` (batches, style noise); afterwards each `next.X` output
/// replaces X in `state`. Returns every output (losses, gradients, activations, updates).
public func runTrainingStep(
    _ runner: any StepRunner, _ graph: Graph, state: inout [String: Tensor], learningRate: Double, step: Int,
    input: (_ name: String, _ type: TensorType) throws -> Tensor
) throws -> [String: Tensor] {
    var inputs: [String: Tensor] = [:]
    for argument in graph.arguments {
        let type = graph.type(of: argument.value)
        switch argument.name {
        case OptimizerNames.learningRate: inputs[argument.name] = Tensor(type, scalars: [learningRate])
        case OptimizerNames.step: inputs[argument.name] = Tensor(type, scalars: [Double(step)])
        default: inputs[argument.name] = try state[argument.name] ?? input(argument.name, type)
        }
    }
    let outputs = try runner.run(inputs)
    for (name, t) in outputs where name.hasPrefix("next.") { state[String(name.dropFirst(5))] = t }
    return outputs
}
