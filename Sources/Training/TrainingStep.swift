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
        inputs[argument.name] = try scheduledArgument(argument.name, type, learningRate: learningRate, step: step)
            ?? state[argument.name] ?? input(argument.name, type)
    }
    let outputs = try runner.run(inputs)
    for (name, t) in outputs where name.hasPrefix("next.") { state[String(name.dropFirst(5))] = t }
    return outputs
}

/// What the schedule gives a step's argument: `optimizer.lr`, and `optimizer.step` counted from 1; nil for
/// every other argument.
func scheduledArgument(_ name: String, _ type: TensorType, learningRate: Double, step: Int) -> Tensor? {
    switch name {
    case OptimizerNames.learningRate: Tensor(type, scalars: [learningRate])
    case OptimizerNames.step: Tensor(type, scalars: [Double(step)])
    default: nil
    }
}
