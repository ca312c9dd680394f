import ArgumentParser
import Foundation
import GraphIR
import Training

/// `munitc run FILE.graph --inputs IN.safetensors [-o OUT.safetensors] [--backend llvm|interp] [--threads N]`.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a graph on compiled kernels (or the reference interpreter).",
        discussion: """
            The inputs file holds one tensor per graph argument (inputs and parameters), by name. Without -o, \
            prints a summary of each output; with -o, writes the outputs as safetensors.
            """)

    @Argument(help: "The .graph file.") var file: String
    @Option(help: "A safetensors file with a tensor for every input and parameter.") var inputs: String?
    @Flag(help: "Run on seeded uniform random values in [-1, 1] instead of an inputs file.") var randomInputs = false
    @Option(help: "The seed for --random-inputs.") var seed: UInt64 = 0
    @Option(name: [.short, .long], help: "Write the outputs to this safetensors file.") var output: String?
    @OptionGroup var execution: ExecutionOptions

    func validate() throws {
        if (inputs == nil) == !randomInputs {
            throw ValidationError("give either --inputs FILE or --random-inputs")
        }
    }

    func run() throws {
        try reportingErrors(file: file) {
            let graph = try loadGraph(path: file)
            if execution.backend == .interp {
                do { try Interpreter(graph: graph).checkMemory(budget: execution.memoryBudget) } catch { throw UserError("\(error)") }
            }
            // Compile before reading or generating arguments: compilation checks the memory the run needs,
            // its buffers and what is held here: the arguments as float64 tensors (and, from --inputs, the
            // file's bytes twice while it is parsed), the outputs as float64 tensors (and their float32 file
            // bytes with -o).
            let elements = { (values: [GraphIR.ValueID]) in values.reduce(0.0) { $0 + Double(graph.type(of: $1).elementCount) } }
            let inputFile = inputs.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int } ?? 0
            let hostBytes = 8 * elements(graph.arguments.map(\.value)) + 2 * Double(inputFile)
                + (output == nil ? 8 : 12) * elements(graph.outputs.map(\.value))
            let runner = try execution.makeRunner(graph, callerBytes: hostBytes)
            let arguments = try readArguments(for: graph)
            let results: [String: Tensor]
            do { results = try runner.run(arguments) } catch {
                throw UserError("\(inputs ?? "--random-inputs"): \(error)")
            }
            if let output {
                do { try SafetensorsFile(tensors: results).write(to: URL(fileURLWithPath: output)) } catch {
                    throw UserError("\(error)")
                }
            } else {
                for o in graph.outputs { print(summary(name: o.name, results[o.name]!, isLoss: o.isLoss)) }
            }
        }
    }

    /// The argument tensors: read from --inputs (every argument must be there), or seeded random values.
    func readArguments(for graph: Graph) throws -> [String: Tensor] {
        guard let inputs else {
            var rng = SplitMix64(seed: seed)
            var tensors: [String: Tensor] = [:]
            for arg in graph.arguments { tensors[arg.name] = Tensor.random(graph.type(of: arg.value), using: &rng) }
            return tensors
        }
        let tensors: [String: Tensor]
        do { tensors = try SafetensorsFile.read(contentsOf: URL(fileURLWithPath: inputs)).tensors } catch {
            throw UserError("\(error)")
        }
        let missing = graph.arguments.map(\.name).filter { tensors[$0] == nil }
        if !missing.isEmpty {
            throw UserError("\(inputs) has no tensor for \(missing.map { "'\($0)'" }.joined(separator: ", "))")
        }
        return tensors
    }

    /// One line per output: name, type, and statistics a person can sanity-check.
    func summary(name: String, _ t: Tensor, isLoss: Bool) -> String {
        let s = t.scalars
        let mean = s.reduce(0, +) / Double(s.count)
        let head = s.prefix(4).map { String(format: "%.6g", $0) }.joined(separator: ", ")
        return "\(isLoss ? "loss" : "output") \(name) : \(t.type)  min \(String(format: "%.6g", s.min()!))  "
            + "max \(String(format: "%.6g", s.max()!))  mean \(String(format: "%.6g", mean))  [\(head)\(s.count > 4 ? ", …" : "")]"
    }
}
