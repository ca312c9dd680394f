import ArgumentParser
import Foundation
import GraphIR
import Passes

/// `munitc build FILE.graph [--train adam|sgd] [--passes LIST] [--disable-pass NAME] [--print-ir-after NAME|all]`
struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the compiler pipeline on a graph and print a build report.",
        discussion: """
            The resulting graph goes to -o (or standard output); the build report and any \
            --print-ir-after dumps go to standard error. Passes: \(PassRegistry.names.joined(separator: ", ")).
            """)

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
    @Option(name: [.short, .long], help: "Write the resulting graph here instead of standard output.") var output: String?

    func run() throws {
        try reportingErrors(file: file) {
            let graph = try loadGraph(path: file)
            var settings = PassSettings()
            settings.wrt = wrt
            settings.adam = AdamOptions(beta1: beta1, beta2: beta2, epsilon: eps, weightDecay: weightDecay)
            settings.sgd = SGDOptions(momentum: momentum, weightDecay: weightDecay)
            let pipeline: [any Pass]
            if let passes {
                pipeline = try passes.split(separator: ",").map {
                    try PassRegistry.make($0.trimmingCharacters(in: .whitespaces), settings)
                }
            } else {
                pipeline = try PassRegistry.defaultPipeline(train: train?.rawValue, settings)
            }
            var manager = PassManager(pipeline: pipeline)
            manager.disabled = Set(disablePass)
            manager.printIRAfter = Set(printIrAfter)
            let (result, records) = try manager.run(graph)
            FileHandle.standardError.write(Data(buildReport(graph, result, records).utf8))
            try emit(printGraph(result), to: output)
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
        let cost = result.nodes.reduce(Cost(flops: 0, bytes: 0)) { total, node in
            total + node.op.cost(node.operands.map { result.type(of: $0) }, node.results.map { result.type(of: $0) }, node.attributes)
        }
        lines.append(String(format: "  result: %d nodes, %d outputs, %.3f GFLOP, %.1f MB moved per run",
                            result.nodes.count, result.outputs.count, Double(cost.flops) / 1e9, Double(cost.bytes) / 1e6))
        return lines.joined(separator: "\n") + "\n"
    }
}
