import GraphIR
import Passes

/// One run of a training step graph, as replay and training both drive it: arguments from `state`
/// (parameters, buffers, optimiser state), `optimizer.lr`, the 1-based `optimizer.step` and the moving
/// average's `ema.beta` from the schedule, every other argument from `input` (batches, style noise);
/// afterwards each `next.X` output
/// replaces X in `state`. Returns every output (losses, gradients, activations, updates).
public func runTrainingStep(
    _ runner: any StepRunner, _ graph: Graph, state: inout [String: Tensor], learningRate: Double, step: Int,
    emaDecay: Double = 0, input: (_ name: String, _ type: TensorType) throws -> Tensor
) throws -> [String: Tensor] {
    var inputs: [String: Tensor] = [:]
    for argument in graph.arguments {
        let type = graph.type(of: argument.value)
        inputs[argument.name] = try scheduledArgument(argument.name, type, learningRate: learningRate, step: step, emaDecay: emaDecay)
            ?? state[argument.name] ?? input(argument.name, type)
    }
    let outputs = try runner.run(inputs)
    for (name, t) in outputs where name.hasPrefix("next.") { state[String(name.dropFirst(5))] = t }
    return outputs
}

/// What the schedule gives a step's argument: `optimizer.lr`, `optimizer.step` counted from 1, and
/// `ema.beta`; nil for every other argument.
func scheduledArgument(_ name: String, _ type: TensorType, learningRate: Double, step: Int, emaDecay: Double = 0) -> Tensor? {
    switch name {
    case OptimizerNames.learningRate: Tensor(type, scalars: [learningRate])
    case OptimizerNames.step: Tensor(type, scalars: [Double(step)])
    case OptimizerNames.emaBeta: Tensor(type, scalars: [emaDecay])
    default: nil
    }
}
