import ArgumentParser
import LLVMBackend
import Passes
import GraphIR
import Training

extension BackendKind: ExpressibleByArgument {}

/// `--backend` and `--threads`, shared by every command that executes graphs.
struct ExecutionOptions: ParsableArguments {
    @Option(help: "Which executor runs the graphs: llvm (compiled native kernels) or interp (the reference interpreter).")
    var backend: BackendKind = .llvm
    @Option(help: "Threads for generated kernels and OpenBLAS (default: every core).") var threads: Int?
    @Flag(help: "Run the graphs unfused (no fusion passes).") var noFuse = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    var compileOptions: CompileOptions { CompileOptions(optimizationLevel: 3, threads: threads) }

    func makeRunner(_ graph: GraphIR.Graph) throws -> any StepRunner {
        let graph = noFuse ? graph : try fused(graph)
        do { return try backend.makeRunner(graph, options: compileOptions) } catch let error as BackendError {
            throw UserError("compiling '\(graph.name)' for the LLVM backend: \(error)")
        }
    }
}

extension EmitKind: ExpressibleByArgument {}

/// `graph` after the fusion pipeline (what every executing command runs unless `--no-fuse`).
func fused(_ graph: GraphIR.Graph) throws -> GraphIR.Graph {
    try PassManager(pipeline: PassRegistry.fusionPipeline()).run(graph).0
}
