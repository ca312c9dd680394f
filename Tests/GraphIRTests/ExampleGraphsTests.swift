import Foundation
import Testing
@testable import GraphIR

/// Every `.graph` file in the repository is a valid graph: it parses, verifies, round-trips through the
/// printer exactly, and runs on the interpreter without producing NaN or infinity.
@Suite struct ExampleGraphsTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static var graphFiles: [URL] {
        guard let walker = FileManager.default.enumerator(
            at: repository, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles]) else { return [] }
        return walker.compactMap { $0 as? URL }.filter { $0.pathExtension == "graph" }.sorted { $0.path < $1.path }
    }

    @Test func repositoryHasExampleGraphs() { #expect(Self.graphFiles.count >= 3) }

    @Test(arguments: graphFiles)
    func roundTripsAndRuns(_ url: URL) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        let graph = try parseGraph(text)
        try graph.verified()
        let printed = printGraph(graph)
        #expect(printGraph(try parseGraph(printed)) == printed)

        var rng = SplitMix64(seed: 11)
        var arguments: [String: Tensor] = [:]
        for arg in graph.arguments { arguments[arg.name] = Tensor.random(graph.type(of: arg.value), using: &rng) }
        let outputs = try Interpreter(graph: graph).run(arguments)
        for (name, t) in outputs { #expect(t.scalars.allSatisfy { $0.isFinite }, "\(name) is not finite") }
        #expect(graph.lossOutput != nil, "example graphs carry a loss so they can be differentiated")
    }
}
