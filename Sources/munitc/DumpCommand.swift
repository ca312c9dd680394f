import ArgumentParser
import GraphIR

/// `munitc dump FILE.graph [--dot] [-o OUT]`: parse, verify, print canonical text or Graphviz DOT.
struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Parse and verify a graph, then print its canonical text (or Graphviz DOT).")

    @Argument(help: "The .graph file.") var file: String
    @Flag(help: "Print Graphviz DOT instead of graph text.") var dot = false
    @Option(name: [.short, .long], help: "Write to this file instead of standard output.") var output: String?

    func run() throws {
        try reportingErrors(file: file) {
            let graph = try loadGraph(path: file)
            try emit(dot ? dotGraph(graph) : printGraph(graph), to: output)
        }
    }
}
