import GraphIR
import LLVMBackend

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
        case .interp: return InterpreterRunner(graph: graph)
        case .llvm: return try Executable(graph: graph, options: options)
        }
    }
}
