import Foundation

/// An error while running a graph: missing or mistyped inputs.
public struct InterpreterError: DescribedError, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The reference interpreter: runs each node's table kernel in order. Values are Doubles rounded to their
/// dtype after every op, so a float32 graph is float32 storage with float64 arithmetic inside each op.
/// Written for obviousness; it is the oracle every pass and the LLVM backend are checked against.
public struct Interpreter {
    public let graph: Graph
    /// The limit `runAll` checks the graph's values against (`checkMemory`); nil: no check (a fused
    /// node's region, whose values the enclosing graph's check counted).
    public var memoryBudget: MemoryBudget?

    public init(graph: Graph, memoryBudget: MemoryBudget? = .standard) {
        self.graph = graph
        self.memoryBudget = memoryBudget
    }

    /// Runs the graph on `arguments` (by argument name, inputs and parameters alike) and returns every
    /// output by name.
    public func run(_ arguments: [String: Tensor]) throws -> [String: Tensor] {
        let values = try runAll(arguments)
        var outputs: [String: Tensor] = [:]
        for o in graph.outputs { outputs[o.name] = values[o.value.index] }
        return outputs
    }

    /// Runs the graph and returns every value (indexed by `ValueID.index`), for tests and debugging.
    /// With `keepingAll`, no value is freed (callers that re-run parts of the graph need them all).
    public func runAll(_ arguments: [String: Tensor], keepingAll: Bool = false) throws -> [Tensor?] {
        if let memoryBudget { try checkMemory(budget: memoryBudget) }
        do { try graph.checkRanks(of: Collectives.current) } catch { throw InterpreterError(error.message) }
        var values = [Tensor?](repeating: nil, count: graph.values.count)
        for arg in graph.arguments {
            guard let t = arguments[arg.name] else {
                throw InterpreterError("missing \(arg.isParameter ? "parameter" : "input") '\(arg.name)' of type \(graph.type(of: arg.value))")
            }
            let expected = graph.type(of: arg.value)
            guard t.shape == expected.shape else {
                throw InterpreterError("'\(arg.name)' has shape \(t.shape), the graph expects \(expected)")
            }
            values[arg.value.index] = t.converted(to: expected.dtype)
        }
        // Free each value after its last use so large graphs fit.
        var remainingUses = graph.useCounts()
        let outputValues = Set(graph.outputs.map(\.value))
        for node in graph.nodes {
            for (id, t) in zip(node.results, evaluate(node, values)) { values[id.index] = t }
            if keepingAll { continue }
            for v in node.operands {
                remainingUses[v.index] -= 1
                if remainingUses[v.index] == 0 && !outputValues.contains(v) { values[v.index] = nil }
            }
        }
        return values
    }

    /// Throws when running the graph could exceed `budget`, so callers refuse a huge graph with a message
    /// instead of dying in an allocation. Counts every value as float64 twice (a kernel's result and its
    /// copy rounded to the dtype exist together) and the caller's argument tensors once more.
    /// `held`: what the process holds already (see `MemoryBudget.check`).
    public func checkMemory(budget: MemoryBudget, held: Double = MemoryBudget.residentBytes()) throws {
        let all = graph.values.reduce(0.0) { $0 + Double($1.type.elementCount) }
        let arguments = graph.arguments.reduce(0.0) { $0 + Double(graph.type(of: $1.value).elementCount) }
        let bytes = 8 * (2 * all + arguments)
        do { try budget.check(bytes, for: "interpreting '\(graph.name)' (its values as float64)", held: held) } catch {
            throw InterpreterError("\(error)")
        }
    }

    /// Runs one node on `values` (its operands must be present) and returns its results, rounded to their
    /// dtypes.
    public func evaluate(_ node: Node, _ values: [Tensor?]) -> [Tensor] {
        let inputs = node.operands.map { v -> Tensor in
            guard let t = values[v.index] else { fatalError("interpreter: \(v) used after it was freed") }
            return t
        }
        let resultTypes = node.results.map { graph.type(of: $0) }
        if let region = node.region {
            // Arguments take the operands in order; the region's outputs are the results.
            var arguments: [String: Tensor] = [:]
            for (argument, t) in zip(region.arguments, inputs) { arguments[argument.name] = t }
            guard let outputs = try? Interpreter(graph: region, memoryBudget: nil).run(arguments) else {
                fatalError("interpreter: the region of a verified fused node failed to run")
            }
            return region.outputs.map { outputs[$0.name]! }
        }
        let results = node.op.kernel(inputs, node.attributes, resultTypes)
        precondition(results.count == node.results.count, "\(node.op.name) kernel returned \(results.count) results")
        return zip(results, resultTypes).map { t, type in
            precondition(t.shape == type.shape, "\(node.op.name) kernel returned \(t.shape), expected \(type)")
            return t.dtype != type.dtype || type.dtype == .f32 ? Tensor(type, scalars: t.scalars) : t
        }
    }
}
