import Foundation
import GraphIR

/// Naming conventions shared by the optimiser passes, so runtimes can bind state by name.
public enum OptimizerNames {
    /// The learning-rate input (a scalar, so schedules never recompile).
    public static let learningRate = "optimizer.lr"
    /// The step-counter input (Adam's t, counting from 1).
    public static let step = "optimizer.step"
    /// The output holding the updated value of argument `name` (parameter or optimiser state).
    public static func next(_ name: String) -> String { "next.\(name)" }
    /// An optimiser state buffer of a parameter (`optimizer.m.<p>`, `optimizer.v.<p>`, `optimizer.momentum.<p>`).
    public static func state(_ kind: String, _ parameter: String) -> String { "optimizer.\(kind).\(parameter)" }
    /// The moving-average decay input of `EMAPass` (a scalar, so starting the average never recompiles).
    public static let emaBeta = "ema.beta"
    /// The moving average of a parameter (`ema.<p>`).
    public static func ema(_ parameter: String) -> String { "ema.\(parameter)" }
}

/// The parameters that have a gradient output, paired with it: what an optimiser pass updates.
func differentiatedParameters(_ graph: Graph, pass: String) throws -> [(parameter: GraphArgument, gradient: ValueID)] {
    let pairs = graph.arguments.compactMap { arg -> (GraphArgument, ValueID)? in
        guard arg.isParameter, let g = graph.output(named: Autodiff.gradientName(arg.name)) else { return nil }
        return (arg, g.value)
    }
    if pairs.isEmpty {
        throw PassError(pass: pass, "the graph has no `grad.<parameter>` outputs; run autodiff first")
    }
    for name in [OptimizerNames.learningRate, OptimizerNames.step] where graph.argument(named: name) != nil {
        throw PassError(pass: pass, "the graph already has an argument '\(name)'; was an optimiser added twice?")
    }
    return pairs
}

extension GraphBuilder {
    /// `g + weightDecay · p`: PyTorch's L2 weight decay, added to the gradient (not decoupled).
    func withWeightDecay(_ gradient: ValueID, _ parameter: ValueID, _ weightDecay: Double) throws -> ValueID {
        weightDecay == 0 ? gradient : try add(gradient, scale(parameter, by: weightDecay))
    }
}
