import Testing
@testable import GraphIR

/// Running one op on the interpreter and expecting a shape-rule rejection: shared by the op suites.
protocol OpTestHelpers {}

extension OpTestHelpers {
    /// Builds a graph over `inputs` (named x0, x1, …), applies `build`, runs it and returns the result.
    func run(_ inputs: [Tensor], _ build: (GraphBuilder, [ValueID]) throws -> ValueID) throws -> Tensor {
        let b = GraphBuilder(name: "test")
        let ids = inputs.enumerated().map { b.input("x\($0.offset)", $0.element.type) }
        b.output("y", try build(b, ids))
        var arguments: [String: Tensor] = [:]
        for (i, t) in inputs.enumerated() { arguments["x\(i)"] = t }
        return try #require(try Interpreter(graph: b.graph).run(arguments)["y"])
    }

    /// Expects building on values of `types` to throw an `OpError`; returns its message.
    @discardableResult
    func rejection(
        _ types: [TensorType], sourceLocation: Testing.SourceLocation = #_sourceLocation,
        _ build: (GraphBuilder, [ValueID]) throws -> ValueID
    ) -> String {
        let b = GraphBuilder(name: "test")
        let ids = types.enumerated().map { b.input("x\($0.offset)", $0.element) }
        let error = #expect(throws: OpError.self, sourceLocation: sourceLocation) { _ = try build(b, ids) }
        return error?.message ?? ""
    }
}
