import GraphIR
import LLVMBackend
import Passes

/// How graphs become runnable steps: the fusion pipeline (unless `fuse` is off, less `disabledPasses`), then
/// the backend's runner. A compiled, fused training step in a few lines:
///
///     let config = try MUNITConfig.load(contentsOf: URL(fileURLWithPath: "configs/edges2handbags_folder.yaml"))
///     let step = try buildMUNITGraph(.genStep, config: config)
///     let runner = try Execution().makeRunner(step)   // fused, then compiled by LLVM for this CPU
///     let outputs = try runner.run(inputs)             // arguments by name in, outputs by name out
///
/// `runTrainingStep` drives such a runner with the optimiser state; `Trainer` and `Replay` take
/// `makeRunner` as their factory.
public struct Execution: Sendable {
    /// Which executor runs the graphs.
    public var backend: BackendKind
    /// Whether to run the fusion pipeline (`PassRegistry.fusionPipeline`) before compiling.
    public var fuse: Bool
    /// Fusion passes to leave out, by name (`PassRegistry.fusionPassNames`).
    public var disabledPasses: Set<String>
    /// How the LLVM backend compiles (threads, target CPU, optimisation level).
    public var options: CompileOptions

    public init(backend: BackendKind = .llvm, fuse: Bool = true, disabledPasses: Set<String> = [],
                options: CompileOptions = CompileOptions()) {
        (self.backend, self.fuse, self.disabledPasses, self.options) = (backend, fuse, disabledPasses, options)
    }

    /// `graph` as it will run: after the fusion pipeline when `fuse` is on.
    public func prepared(_ graph: Graph) throws -> Graph {
        fuse ? try PassRegistry.fusing(graph, disabling: disabledPasses) : graph
    }

    /// A runner for `graph`: fused (see `prepared`), then compiled or interpreted by `backend`.
    public func makeRunner(_ graph: Graph) throws -> any StepRunner {
        try backend.makeRunner(try prepared(graph), options: options)
    }
}
