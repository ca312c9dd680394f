import ArgumentParser
import Foundation
import GraphIR
import LLVMBackend
import MUNITGraphs
import Passes
import Training

/// `munitc bench [FILE.graph] [--config C.yaml] [--size N] [--iters N] [--threads N] [--json]`
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time compiled MUNIT training iterations (or any graph) and show where the time goes.",
        discussion: """
            With a config (or neither a config nor a file: the built-in NVlabs default), compiles the dis and \
            gen steps for the config's crop and batch, runs one warm-up iteration, then times --iters \
            iterations (dis step then gen step, parameters and Adam state fed back in place) on random data. \
            With FILE.graph, times runs of that graph on random arguments. Prints the median seconds, the \
            achieved GFLOP/s (FLOPs from the op table's cost model) and the top kernels by time.
            """)

    @Argument(help: "A .graph file to time instead of MUNIT.") var file: String?
    @Option(help: "An NVlabs MUNIT config (default: the built-in edges2handbags-like config).") var config: String?
    @Option(help: "Override the crop: height = width = N.") var size: Int?
    @Option(help: "Override the batch size.") var batch: Int?
    @Option(help: "Timed iterations after the warm-up.") var iters = 5
    @Option(help: "Threads for kernels and OpenBLAS (default: every core).") var threads: Int?
    @Option(help: "Kernels listed in the profile.") var top = 12
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func validate() throws {
        if iters < 1 { throw ValidationError("--iters must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if file != nil && config != nil { throw ValidationError("give a .graph file or --config, not both") }
    }

    func run() throws {
        try reportingErrors(file: file ?? config ?? "<built-in config>") {
            let options = CompileOptions(threads: threads)
            let job: BenchJob = try file.map { try graphJob($0, options) } ?? configJob(options)
            let result = try job.measure(iterations: iters)
            print(json ? result.json(top: top) : result.text(top: top))
        }
    }

    func graphJob(_ path: String, _ options: CompileOptions) throws -> BenchJob {
        let graph = try loadGraph(path: path)
        let executable = try compile(graph, options)
        var rng = SplitMix64(seed: 0)
        for argument in graph.arguments {
            try executable.setArgument(argument.name, Tensor.random(graph.type(of: argument.value), using: &rng))
        }
        return BenchJob(title: "\(path) (\(graph.nodes.count) nodes)", threads: options.threads, executables: [executable], feedback: [])
    }

    func configJob(_ options: CompileOptions) throws -> BenchJob {
        var settings = try config.map { try MUNITConfig.load(contentsOf: URL(fileURLWithPath: $0)) } ?? MUNITConfig.builtIn()
        if let size { (settings.cropImageHeight, settings.cropImageWidth) = (size, size) }
        if let batch { settings.batchSize = batch }
        let shape = MUNITGraphOptions(batchSize: settings.batchSize, height: settings.cropImageHeight, width: settings.cropImageWidth)
        let graphStart = Date()
        let dis = try buildMUNITGraph(.disStep, config: settings, options: shape)
        let gen = try buildMUNITGraph(.genStep, config: settings, options: shape)
        let graphSeconds = Date().timeIntervalSince(graphStart)
        let steps = [try compile(dis, options), try compile(gen, options)]
        // Parameters from NVlabs' initialisation, images uniform in [−1, 1], styles normal, Adam state zero.
        let parameters = initialMUNITParameters(config: settings, seed: 0)
        var rng = SplitMix64(seed: 1)
        for step in steps {
            for argument in step.graph.arguments {
                let type = step.graph.type(of: argument.value)
                if let t = parameters[argument.name] { try step.setArgument(argument.name, t) }
                else if argument.name == OptimizerNames.learningRate { try step.setArgument(argument.name, Tensor(type, repeating: settings.lr)) }
                else if argument.name == OptimizerNames.step { try step.setArgument(argument.name, Tensor(type, repeating: 1)) }
                else if argument.name.hasPrefix("s_") {
                    try step.setArgument(argument.name, Tensor(type, scalars: (0..<type.elementCount).map { _ in rng.nextNormal() }))
                } else if !argument.name.hasPrefix("optimizer.") {
                    try step.setArgument(argument.name, Tensor.random(type, in: -1...1, using: &rng))
                }
            }
        }
        // After each step, every next.X replaces X wherever a step reads X.
        var feedback: [(Int, String, Int, String)] = []
        for (i, step) in steps.enumerated() {
            for output in step.graph.outputs where output.name.hasPrefix("next.") {
                let target = String(output.name.dropFirst(5))
                for (j, other) in steps.enumerated() where other.hasArgument(target) { feedback.append((i, output.name, j, target)) }
            }
        }
        let crop = "\(settings.batchSize)×3×\(settings.cropImageHeight)×\(settings.cropImageWidth)"
        var job = BenchJob(title: "MUNIT training iteration, \(config ?? "built-in config"), batch×crop \(crop), gen dim \(settings.gen.dim)",
                           threads: options.threads, executables: steps, feedback: feedback)
        job.graphSeconds = graphSeconds
        return job
    }

    func compile(_ graph: Graph, _ options: CompileOptions) throws -> Executable {
        do { return try Executable(graph: graph, options: options) } catch {
            throw UserError("compiling '\(graph.name)': \(error)")
        }
    }
}
