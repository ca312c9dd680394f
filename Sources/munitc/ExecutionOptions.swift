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
    @Option(help: "Threads for generated kernels and OpenBLAS (default: every core; under mpirun, the cores shared among the machine's ranks).")
    var threads: Int?
    @Flag(help: "Run the graphs unfused (no fusion passes).") var noFuse = false
    @Option(help: ArgumentHelp("Skip this fusion pass (repeatable).", valueName: fusionPassNames)) var disablePass: [String] = []
    @Option(help: ArgumentHelp("Generate kernels for this CPU instead of the host (default: $MUNITC_TARGET_CPU, else the host).",
                               valueName: "host|haswell|x86-64-v3|skylake-avx512|…")) var targetCPU: String?
    @Option(help: ArgumentHelp("The memory munitc may plan to use, checked before allocating (default: $\(MemoryBudget.environmentVariable), else the memory available).",
                               valueName: "8G|512M|bytes")) var maxMemory: String?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        try validateFusionPasses(disablePass)
        try validateTargetCPU(targetCPU)
        do { _ = try MemoryBudget.resolve(option: maxMemory) } catch { throw ValidationError("\(error)") }
    }

    /// The limit memory pre-checks use (validated in `validate`).
    var memoryBudget: MemoryBudget { (try? MemoryBudget.resolve(option: maxMemory)) ?? .available() }

    var compileOptions: CompileOptions {
        var options = CompileOptions(optimizationLevel: 2, threads: threads ?? Munitc.job?.threadsPerRank, targetCPU: targetCPU)
        options.memoryBudget = memoryBudget
        return options
    }

    /// The library's `Execution` these flags describe.
    var execution: Execution {
        Execution(backend: backend, fuse: !noFuse, disabledPasses: Set(disablePass), options: compileOptions)
    }

    /// `updatingArguments`: training steps write `next.X` over X (`CompileOptions.updatesArgumentsInPlace`).
    /// `callerBytes`: what the caller holds while the graph runs (`CompileOptions.callerBytes`).
    func makeRunner(_ graph: GraphIR.Graph, updatingArguments: Bool = false, callerBytes: Double = 0) throws -> any StepRunner {
        var execution = execution
        execution.options.updatesArgumentsInPlace = updatingArguments
        execution.options.callerBytes = callerBytes
        do { return try execution.makeRunner(graph) } catch let error as BackendError {
            throw UserError("compiling '\(graph.name)' for the LLVM backend: \(error)")
        }
    }
}

/// The passes `--disable-pass` may name on executing commands, for help texts.
let fusionPassNames = PassRegistry.fusionPassNames.joined(separator: "|")

/// Rejects a `--disable-pass` that names no fusion pass.
func validateFusionPasses(_ names: [String]) throws {
    let known = PassRegistry.fusionPassNames
    for name in names where !known.contains(name) {
        throw ValidationError("--disable-pass \(name): no fusion pass of that name (the fusion passes: \(known.joined(separator: ", ")))")
    }
}

/// Rejects a `--target-cpu` (or `MUNITC_TARGET_CPU`) that names no CPU munitc knows or one this CPU cannot run.
func validateTargetCPU(_ name: String?) throws {
    do { _ = try CompileOptions(targetCPU: name).resolvedTargetCPU() } catch {
        throw ValidationError(name == nil ? error.message : "--target-cpu \(error.message)")
    }
}
