import ArgumentParser
import Foundation
import GraphIR
import Passes

/// `munitc gradcheck FILE.graph [--wrt REGEX] [--samples K] [--seed S]`
struct Gradcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the symbolic gradient of a graph's loss with finite differences (float64).",
        discussion: """
            Checks K random elements of every trainable parameter (all elements of small ones) at random \
            inputs; elements at a kink (relu or |x| at 0) are resampled and counted. Prints a line per \
            parameter and the worst relative error; exits 1 when any element is out of tolerance.
            """)

    @Argument(help: "The .graph file (it must mark a loss output).") var file: String
    @Option(help: "Only trainable parameters whose whole name matches this regex.") var wrt: String?
    @Option(help: "Elements sampled per parameter.") var samples = 4
    @Option(help: "Seed for the inputs and the sampled elements.") var seed: UInt64 = 0
    @Option(help: "Relative error allowed.") var tolerance = 1e-5
    @Option(help: "A safetensors file with values for some or all arguments (others are random).") var inputs: String?

    func validate() throws {
        if samples < 1 { throw ValidationError("--samples must be at least 1") }
        if !(tolerance > 0) { throw ValidationError("--tolerance must be positive") }
    }

    func run() throws {
        try reportingErrors(file: file) {
            let graph = try loadGraph(path: file)
            let given = try inputs.map { try SafetensorsFile.read(contentsOf: URL(fileURLWithPath: $0)).tensors } ?? [:]
            var checker = GradientChecker()
            checker.samples = samples
            checker.seed = seed
            checker.tolerance = tolerance
            let autodiff = try Autodiff(matching: wrt)
            let results = try checker.check(graph, wrt: autodiff, arguments: given)
            let width = results.map(\.name.count).max() ?? 0
            for r in results {
                var line = "\(r.passed ? "ok  " : "FAIL") \(r.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(r.type)  "
                line += "checked \(r.checked)  worst \(String(format: "%.2e", r.worstRelativeError))"
                if r.kinksResampled > 0 { line += "  (\(r.kinksResampled) at kinks, resampled)" }
                if !r.passed, let e = r.worstElement {
                    line += String(format: "  element %d: symbolic %.9g, numeric %.9g", e.index, e.symbolic, e.numeric)
                }
                print(line)
            }
            let worst = results.map(\.worstRelativeError).max() ?? 0
            let failed = results.filter { !$0.passed }.count
            print(String(format: "worst relative error: %.2e over %d parameters (tolerance %.0e)%@", worst, results.count,
                         tolerance, failed > 0 ? ", \(failed) failed" : ""))
            if failed > 0 { throw ExitCode.failure }
        }
    }
}
