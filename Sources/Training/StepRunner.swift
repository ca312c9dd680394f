import GraphIR

/// Something that runs a step graph: the interpreter now, compiled kernels once the backend lands.
public protocol StepRunner {
    func run(_ inputs: [String: Tensor]) throws -> [String: Tensor]
}

/// Runs a graph on the reference interpreter.
public struct InterpreterRunner: StepRunner {
    public let interpreter: Interpreter
    public init(graph: Graph) { interpreter = Interpreter(graph: graph) }
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] { try interpreter.run(inputs) }
}
