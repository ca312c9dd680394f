import ArgumentParser
import Foundation
import GraphIR
import MUNITGraphs
import Passes
import Training

/// `munitc gradcheck FILE.graph [--wrt REGEX] [--samples K] [--seed S] [--init CONFIG | --checkpoint FILE…] [--draw fan-in|uniform]`
struct Gradcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the symbolic gradient of a graph's loss with finite differences (float64).",
        discussion: """
            Checks K random elements of every trainable parameter (all elements of small ones); elements at \
            a kink (relu or |x| at 0) are resampled and counted. Parameters come from --init (the network's \
            initialisation for a MUNIT config), --checkpoint files or --inputs; the rest are drawn as a \
            fresh network has them (weights uniform in ±√(6 / fan_in), everything else in [−1, 1]). Where a \
            parameter is out of tolerance only because the loss is locally flat or clamped on its path (a \
            saturated sigmoid or tanh, binary cross-entropy's clamp), finite differences cannot judge it: it \
            is reported as FLAT, not as a failure. Prints a line per parameter and the worst relative error; \
            exits 1 when any parameter fails.
            """)

    @Argument(help: "The .graph file (it must mark a loss output).") var file: String
    @Option(help: "Only trainable parameters whose whole name matches this regex.") var wrt: String?
    @Option(help: "Elements sampled per parameter.") var samples = 4
    @Option(help: "Seed for the drawn arguments, --init's parameters and the sampled elements.") var seed: UInt64 = 0
    @Option(help: "Relative error allowed.") var tolerance = 1e-5
    @Option(help: "A safetensors file with values for some or all arguments (others are drawn).") var inputs: String?
    @Option(name: .customLong("init"), help: "A MUNIT config: parameters as its initialisation (init key) draws them.")
    var initConfig: String?
    @Option(help: "A safetensors file of parameters by trainer name, or a munitc gen_/dis_ snapshot (repeatable).")
    var checkpoint: [String] = []
    @Option(help: "How arguments nobody gives are drawn: fan-in (a fresh network's scale) or uniform (all in [−1, 1]).")
    var draw = ArgumentDraw.fanIn

    func validate() throws {
        if samples < 1 { throw ValidationError("--samples must be at least 1") }
        if !(tolerance > 0) { throw ValidationError("--tolerance must be positive") }
    }

    func run() throws {
        try reportingErrors(file: file) {
            let graph = try loadGraph(path: file)
            let given = try givenArguments(for: graph)
            var checker = GradientChecker()
            checker.samples = samples
            checker.seed = seed
            checker.tolerance = tolerance
            checker.draw = draw
            let autodiff = try Autodiff(matching: wrt)
            let results = try checker.check(graph, wrt: autodiff, arguments: given)
            let width = results.map(\.name.count).max() ?? 0
            for r in results {
                let status = r.passed ? "ok  " : r.failed ? "FAIL" : "FLAT"
                var line = "\(status) \(r.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(r.type)  "
                line += "checked \(r.checked)  worst \(String(format: "%.2e", r.worstRelativeError))"
                if r.kinksResampled > 0 { line += "  (\(r.kinksResampled) at kinks, resampled)" }
                if !r.passed, let e = r.worstElement {
                    line += String(format: "  element %d: symbolic %.9g, numeric %.9g", e.index, e.symbolic, e.numeric)
                }
                if let flatness = r.flatness { line += "  — not judged: \(flatness)" }
                print(line)
            }
            let worst = results.filter { $0.flatness == nil }.map(\.worstRelativeError).max() ?? 0
            let failed = results.filter(\.failed).count, flat = results.filter { !$0.passed && !$0.failed }.count
            var summary = String(format: "worst relative error: %.2e over %d parameters (tolerance %.0e)", worst,
                                 results.count - flat, tolerance)
            if failed > 0 { summary += ", \(failed) failed" }
            if flat > 0 {
                summary += "; \(flat) not judged where the loss is flat or clamped (parameters at a realistic scale: "
                    + "--init CONFIG, --checkpoint, or the default --draw fan-in)"
            }
            print(summary)
            if failed > 0 { throw ExitCode.failure }
        }
    }

    /// Arguments from --inputs, --checkpoint files and --init, the earlier taking precedence; the count of
    /// each source that matched the graph goes to standard error.
    func givenArguments(for graph: Graph) throws -> [String: Tensor] {
        var given: [String: Tensor] = [:]
        var sources: [String] = []
        func add(_ tensors: [String: Tensor], from source: String) {
            let matched = tensors.filter { graph.argument(named: $0.key) != nil && given[$0.key] == nil }
            given.merge(matched) { a, _ in a }
            sources.append("\(matched.count) from \(source)")
        }
        func read(_ path: String) throws -> [String: Tensor] {
            do { return try SafetensorsFile.read(contentsOf: URL(fileURLWithPath: path)).tensors } catch {
                throw UserError("\(path): \(error)")
            }
        }
        if let inputs { add(try read(inputs), from: inputs) }
        for path in checkpoint {
            add(CheckpointStore.trainerNames(try read(path), file: URL(fileURLWithPath: path)), from: path)
        }
        if let initConfig {
            let config = try MUNITConfig.load(contentsOf: URL(fileURLWithPath: initConfig))
            add(initialMUNITParameters(config: config, seed: seed), from: "--init \(initConfig)")
        }
        if !sources.isEmpty {
            FileHandle.standardError.write(Data("arguments: \(sources.joined(separator: ", ")); the rest drawn (\(draw.rawValue))\n".utf8))
        }
        return given
    }
}

extension ArgumentDraw: ExpressibleByArgument {}
