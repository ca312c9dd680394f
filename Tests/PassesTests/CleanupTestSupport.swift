import Testing
@testable import GraphIR
@testable import Passes

/// Shared checks of the clean-up passes: golden text, and the interpreter as the oracle.
enum CleanupCheck {
    /// Runs `pass` on the graph `text`, verifies the result, checks that it computes exactly what the input
    /// computed on seeded random arguments (or within `tolerance` of each output's largest magnitude), and
    /// returns the printed result and the pass's statistics.
    static func run(
        _ pass: any Pass, _ text: String, tolerance: Double = 0, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws -> (String, PassStatistics) {
        let (input, result, statistics) = try apply(pass, text)
        try expectEquivalent(input, result, tolerance: tolerance, sourceLocation: sourceLocation)
        return (printGraph(result), statistics)
    }

    /// Runs `pass` on the graph `text` and verifies the result: for passes that change what a graph computes
    /// (autodiff, the optimisers), whose golden tests cannot use the interpreter as the oracle.
    static func apply(_ pass: any Pass, _ text: String) throws -> (input: Graph, result: Graph, statistics: PassStatistics) {
        let input = try parseGraph(text)
        var statistics = PassStatistics()
        let result = try pass.run(input, statistics: &statistics)
        try result.verified()
        return (input, result, statistics)
    }

    /// Seeded arguments for every argument of `graph`, uniform in [−1, 1].
    static func randomArguments(_ graph: Graph, seed: UInt64) -> [String: Tensor] {
        var rng = SplitMix64(seed: seed)
        var arguments: [String: Tensor] = [:]
        for arg in graph.arguments { arguments[arg.name] = Tensor.random(graph.type(of: arg.value), using: &rng) }
        return arguments
    }

    /// Expects `after` to compute the same outputs as `before` on random arguments: bit for bit (NaN equal
    /// to NaN, −0 to 0) when `tolerance` is 0, else within `tolerance` × the output's largest magnitude.
    /// Outputs in `skipping` are not compared (the caller checks them its own way).
    static func expectEquivalent(
        _ before: Graph, _ after: Graph, tolerance: Double = 0, seed: UInt64 = 7, skipping: Set<String> = [],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        #expect(before.outputs.map(\.name) == after.outputs.map(\.name), sourceLocation: sourceLocation)
        #expect(before.arguments.map(\.name) == after.arguments.map(\.name), sourceLocation: sourceLocation)
        let arguments = randomArguments(before, seed: seed)
        let expected = try Interpreter(graph: before).run(arguments)
        let actual = try Interpreter(graph: after).run(arguments)
        for output in before.outputs where !skipping.contains(output.name) {
            let e = try #require(expected[output.name]), a = try #require(actual[output.name])
            #expect(e.type == a.type, "\(output.name): \(e.type) became \(a.type)", sourceLocation: sourceLocation)
            let scale = e.scalars.filter(\.isFinite).map(Swift.abs).max() ?? 0
            let mismatch = zip(e.scalars, a.scalars).first { x, y in
                !(x == y || (x.isNaN && y.isNaN) || Swift.abs(x - y) <= tolerance * scale)
            }
            #expect(mismatch == nil, "\(output.name): \(mismatch.map { "\($0.0) became \($0.1)" } ?? "")",
                    sourceLocation: sourceLocation)
        }
    }

    /// The graph text as `printGraph` writes it (trailing newline), from an indented literal.
    static func golden(_ text: String) -> String { text + "\n" }
}
