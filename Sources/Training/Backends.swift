import GraphIR
import LLVMBackend

/// The backends that run graphs, and the choice between them. Something that runs a step graph: the
/// interpreter (`InterpreterRunner`) or the LLVM backend's `Executable`.
public protocol StepRunner {
    func run(_ inputs: [String: Tensor]) throws -> [String: Tensor]
}

/// Runs a graph on the reference interpreter.
public struct InterpreterRunner: StepRunner {
    public let interpreter: Interpreter
    public init(graph: Graph, memoryBudget: MemoryBudget = .standard) {
        interpreter = Interpreter(graph: graph, memoryBudget: memoryBudget)
    }
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] { try interpreter.run(inputs) }
}

/// Compiled kernels run a step exactly as the interpreter does: arguments by name in, outputs by name out.
extension Executable: StepRunner {}

/// Which executor runs graphs.
public enum BackendKind: String, CaseIterable, Sendable {
    /// The reference interpreter (float64 arithmetic per op; slow, obviously right).
    case interp
    /// Native kernels compiled through LLVM.
    case llvm

    /// A runner for `graph` on this backend.
    public func makeRunner(_ graph: Graph, options: CompileOptions = CompileOptions()) throws -> any StepRunner {
        switch self {
        case .interp: return InterpreterRunner(graph: graph, memoryBudget: options.memoryBudget)
        case .llvm: return try Executable(graph: graph, options: options)
        }
    }
}
