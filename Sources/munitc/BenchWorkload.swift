import Foundation
import GraphIR
import LLVMBackend
import Passes

/// What a benchmark runs: graphs (one iteration runs them in order) and how to fill their arguments.
struct BenchWorkload {
    var title: String
    var graphs: [Graph]
    /// The starting value of an argument; `rng` is seeded from the argument's name, so fused and unfused
    /// builds of the same graphs start from identical values.
    var initial: (String, TensorType, inout SplitMix64) -> Tensor
    var graphSeconds = 0.0
    /// Whether `next.X` outputs are copied into argument X after each graph (a training iteration).
    var feedsBack = false
    /// Frees what only binding needed (called once every job is built).
    var release: () -> Void = {}

    init(title: String, graphs: [Graph], initial: @escaping (String, TensorType, inout SplitMix64) -> Tensor) {
        self.title = title
        self.graphs = graphs
        self.initial = initial
    }

    /// Compiles the graphs (after the fusion pipeline when `fuse`) and binds the starting arguments.
    func job(fuse: Bool, disabling disabled: [String] = [], options: CompileOptions) throws -> BenchJob {
        var options = options
        // A training iteration writes its updates over the parameters and moments, as `munitc train` does.
        options.updatesArgumentsInPlace = feedsBack
        var executables: [Executable] = []
        for graph in graphs {
            let input = fuse ? try PassRegistry.fusing(graph, disabling: Set(disabled)) : graph
            do { executables.append(try Executable(graph: input, options: options)) } catch {
                throw UserError("compiling '\(graph.name)': \(error)")
            }
        }
        // The steps run one after another, as `munitc train` runs them: one copy of each parameter, one
        // arena (the largest step's).
        for (k, executable) in executables.enumerated().dropFirst() {
            for earlier in executables[..<k] { try executable.shareStorage(with: earlier) }
        }
        for executable in executables {
            for argument in executable.graph.arguments {
                var rng = SplitMix64(seed: argument.name.utf8.reduce(1469598103934665603) { ($0 ^ UInt64($1)) &* 1099511628211 })
                try executable.setArgument(argument.name, initial(argument.name, executable.graph.type(of: argument.value), &rng))
            }
        }
        var feedback: [(Int, String, Int, String)] = []
        if feedsBack {
            for (i, step) in executables.enumerated() {
                for output in step.graph.outputs where output.name.hasPrefix("next.") {
                    let target = String(output.name.dropFirst(5))
                    for (j, other) in executables.enumerated() where other.hasArgument(target) {
                        // A shared buffer needs one copy.
                        let copied = feedback.contains { $0.0 == i && $0.1 == output.name && executables[$0.2].sharesArgument(target, with: other) }
                        if !copied { feedback.append((i, output.name, j, target)) }
                    }
                }
            }
        }
        var job = BenchJob(title: title + (fuse ? "" : ", unfused"), threads: options.threads, executables: executables, feedback: feedback)
        job.ranks = Collectives.current.size
        job.graphSeconds = graphSeconds
        return job
    }
}
