import ArgumentParser
import Foundation
import GraphIR
import LLVMBackend
import Passes

extension EmitKind: ExpressibleByArgument {}

/// `munitc build FILE.graph [-O0|-O1|-O2|-O3] [--train adam|sgd] [--passes LIST] [--disable-pass NAME]
/// [--print-ir-after NAME|all] [--emit graph|llvm|asm|obj] [-o|--output OUT] [--threads N] [--ranks N] [--samples N]`
struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the compiler pipeline on a graph, generate its kernels, and print a build report.",
        discussion: """
            The pipeline: the graph passes, then memory planning and code generation (LLVM, for the host CPU). \
            --emit picks what goes to -o (or standard output): the resulting graph, the optimised LLVM IR, \
            host assembly, or a relocatable object (obj needs -o; a manifest describing its entry point and \
            buffers is written beside it as OUT.json). The build report and any --print-ir-after dumps go to \
            standard error. Passes: \(PassRegistry.names.joined(separator: ", ")).
            """)

    enum OptimizationLevel: String, EnumerableFlag {
        case O0, O1, O2, O3
        static func name(for value: OptimizationLevel) -> NameSpecification { .customLong(value.rawValue, withSingleDash: true) }
        static func help(for value: OptimizationLevel) -> ArgumentHelp? { value == .O2 ? "LLVM optimisation level (default -O2: on MUNIT's kernels as fast as -O3 in half the compile time)." : nil }
        var level: Int { Int(rawValue.dropFirst())! }
    }

    enum Optimizer: String, ExpressibleByArgument, CaseIterable { case adam, sgd }

    @Argument(help: "The .graph file.") var file: String
    @Option(help: "Make a training step: differentiate the loss, then add this optimiser's update.") var train: Optimizer?
    @Option(help: "Comma-separated passes replacing the default pipeline.") var passes: String?
    @Option(help: "Skip this pass (repeatable).") var disablePass: [String] = []
    @Option(help: "Print the IR after this pass, or after every pass with 'all' (repeatable).") var printIrAfter: [String] = []
    @Option(help: "autodiff: differentiate only trainable parameters whose name matches this regex.") var wrt: String?
    @Option(help: "adam: β1.") var beta1 = 0.9
    @Option(help: "adam: β2.") var beta2 = 0.999
    @Option(help: "adam: ε.") var eps = 1e-8
    @Option(help: "adam and sgd: L2 weight decay added to the gradient.") var weightDecay = 0.0
    @Option(help: "sgd: momentum.") var momentum = 0.0
    @Flag var optimization: OptimizationLevel = .O2
    @Flag(help: "Leave the fusion passes out of the default pipeline.") var noFuse = false
    @Option(help: "What to write: graph, llvm (optimised IR), asm, or obj (with OUT.json).") var emit: EmitKind = .graph
    @Option(name: [.short, .long], help: "Write the result here instead of standard output.") var output: String?
    @Option(help: "Threads the compiled step will use (recorded; default: every core).") var threads: Int?
    @Option(help: "sync-batch-statistics and data-parallel: the ranks the batch is split over.") var ranks = 2
    @Option(help: "virtual-ranks: how many of those ranks (one sample each) one process runs.") var samples = 2

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if ranks < 1 { throw ValidationError("--ranks must be at least 1, got \(ranks)") }
        if samples < 1 || ranks % samples != 0 { throw ValidationError("--samples must be at least 1 and divide --ranks (\(ranks)), got \(samples)") }
        if emit == .obj && output == nil { throw ValidationError("--emit obj needs -o FILE (an object file is binary)") }
    }

    func run() throws {
        try reportingErrors(file: file) {
            let graph = try loadGraph(path: file)
            var settings = PassSettings()
            settings.wrt = wrt
            settings.ranks = ranks
            settings.samples = samples
            settings.adam = AdamOptions(beta1: beta1, beta2: beta2, epsilon: eps, weightDecay: weightDecay)
            settings.sgd = SGDOptions(momentum: momentum, weightDecay: weightDecay)
            let pipeline: [any Pass]
            if let passes {
                pipeline = try passes.split(separator: ",").map {
                    try PassRegistry.make($0.trimmingCharacters(in: .whitespaces), settings)
                }
            } else {
                pipeline = try PassRegistry.defaultPipeline(train: train?.rawValue, settings)
                    + (noFuse ? [] : PassRegistry.fusionPipeline())
            }
            var manager = PassManager(pipeline: pipeline)
            manager.disabled = Set(disablePass)
            manager.printIRAfter = Set(printIrAfter)
            let (result, records) = try manager.run(graph)
            let artifact: AheadOfTime.Artifact
            do {
                artifact = try AheadOfTime.compile(result, emit: emit, options: CompileOptions(optimizationLevel: optimization.level, threads: threads))
            } catch { throw UserError("code generation: \(error)") }
            FileHandle.standardError.write(Data((buildReport(graph, result, records) + codegenReport(artifact.report)).utf8))
            switch emit {
            case .graph: try munitc.emit(printGraph(result), to: output)
            case .llvm, .asm: try munitc.emit(String(decoding: artifact.output, as: UTF8.self), to: output)
            case .obj:
                guard let output else { return }
                try write(artifact.output, to: output)
                try write(Data((artifact.manifest ?? "").utf8), to: output + ".json")
            }
        }
    }

    /// Kernels, deduplication, per-stage compile time and arena bytes.
    func codegenReport(_ r: CompileReport) -> String {
        let stages = r.stageSeconds.map { String(format: "%@ %.0f ms", $0.stage, $0.seconds * 1000) }.joined(separator: ", ")
        return String(format: "  codegen (-O%d): %d nodes -> %d kernels generated, %d calls deduplicated, %d views; %@\n",
                      optimization.level, r.nodes, r.kernels, r.deduplicated, r.aliases, stages)
            + String(format: "  memory plan: arena %.2f MB (%.2f MB without reuse), %d results in place, arguments %.2f MB\n",
                     Double(r.arenaBytes) / 1e6, Double(r.unplannedArenaBytes) / 1e6, r.inPlace, Double(r.argumentBytes) / 1e6)
    }

    func write(_ data: Data, to path: String) throws {
        do { try writeFileAtomically(data, to: URL(fileURLWithPath: path)) } catch {
            throw UserError("cannot write '\(path)': \(error)")
        }
    }

    /// Nodes before and after each pass, its time and its statistics.
    func buildReport(_ input: Graph, _ result: Graph, _ records: [PassRecord]) -> String {
        var lines = ["build report for \(file): \(input.nodes.count) nodes in"]
        for r in records {
            guard r.ran else {
                lines.append("  \(r.name): disabled")
                continue
            }
            let stats = r.statistics.counters.map { "\($0.0) = \($0.1)" }.joined(separator: ", ")
            lines.append(String(format: "  %@: %d -> %d nodes, %.1f ms", r.name, r.nodesBefore, r.nodesAfter, r.seconds * 1000)
                + (stats.isEmpty ? "" : " (\(stats))"))
        }
        // Graph.cost(of:) and not the op's rule: a fused node's op costs nothing, its region holds the work.
        let cost = result.nodes.reduce(Cost(flops: 0, bytes: 0)) { $0 + result.cost(of: $1) }
        lines.append(String(format: "  result: %d nodes, %d outputs, %.3f GFLOP, %.1f MB moved per run",
                            result.nodes.count, result.outputs.count, Double(cost.flops) / 1e9, Double(cost.bytes) / 1e6))
        return lines.joined(separator: "\n") + "\n"
    }
}
