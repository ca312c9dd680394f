import Foundation
import Testing
@testable import GraphIR
@testable import Passes
import TestSupport

/// The single-op cases of `ops.safetensors`: each case's op, attributes and inputs, and PyTorch's gradients
/// of ⟨out, gout⟩ with respect to every input.
struct OpReferenceCases {
    struct Case {
        var name: String
        var op: String
        var attributes: [String: Any]
        var inputs: [Tensor]
        var upstream: Tensor
        var gradients: [Tensor]
    }

    var cases: [Case] = []

    /// Reads the file, or returns nil when the shared folder is not beside this checkout.
    static func load() throws -> OpReferenceCases? {
        guard let url = SharedFolder.opsReference else { return nil }
        let file = try SafetensorsFile.read(contentsOf: url)
        let json = try #require(file.metadata["cases"]?.data(using: .utf8), "no 'cases' metadata in \(url.path)")
        let specs = try #require(try JSONSerialization.jsonObject(with: json) as? [String: [String: Any]])
        var result = OpReferenceCases()
        for name in specs.keys.sorted() {
            let spec = try #require(specs[name])
            let count = try #require(spec["inputs"] as? [String], "case \(name) lists no inputs").count
            func tensor(_ key: String) throws -> Tensor {
                try #require(file.tensors["case.\(name).\(key)"], "missing case.\(name).\(key)").converted(to: .f64)
            }
            result.cases.append(Case(
                name: name, op: try #require(spec["op"] as? String), attributes: spec["attrs"] as? [String: Any] ?? [:],
                inputs: try (0..<count).map { try tensor("in.\($0)") }, upstream: try tensor("gout"),
                gradients: try (0..<count).map { try tensor("grad.\($0)") }))
        }
        return result
    }

    /// An int-list attribute, given in the file either as one int (every axis) or as a list of `count`.
    static func ints(_ value: Any?, count: Int) throws -> [Int] {
        if let v = value as? Int { return Array(repeating: v, count: count) }
        let list = try #require(value as? [Int], "expected an int or a list of ints, got \(String(describing: value))")
        try #require(list.count == count, "expected \(count) ints, got \(list)")
        return list
    }

    /// Differentiates ⟨op(inputs), gout⟩ with respect to every input (trainable float64 parameters) and returns
    /// the worst error of each gradient relative to the largest magnitude of PyTorch's gradient; nil when
    /// `build` does not cover the case's op (returns nil).
    static func gradientErrors(
        _ c: Case, build: (GraphBuilder, [ValueID]) throws -> ValueID?
    ) throws -> [Double]? {
        let b = GraphBuilder(name: "reference")
        let params = c.inputs.enumerated().map { b.parameter("p\($0.offset)", $0.element.type) }
        let gout = b.input("gout", c.upstream.type)
        guard let y = try build(b, params) else { return nil }
        try #require(b.shape(of: y) == c.upstream.shape, "\(c.name): result \(b.shape(of: y)) vs gout \(c.upstream.shape)")
        b.loss("loss", try b.reduceSum(b.mul(y, gout), axes: Array(0..<c.upstream.shape.count)))
        var statistics = PassStatistics()
        let graph = try Autodiff().run(b.graph, statistics: &statistics)
        try graph.verified()
        var arguments = ["gout": c.upstream]
        for (i, t) in c.inputs.enumerated() { arguments["p\(i)"] = t }
        let outputs = try Interpreter(graph: graph).run(arguments)
        return try c.gradients.enumerated().map { i, expected in
            let ours = try #require(outputs[Autodiff.gradientName("p\(i)")])
            try #require(ours.shape == expected.shape, "\(c.name) grad \(i): \(ours.shape) vs \(expected.shape)")
            let scale = Swift.max(expected.scalars.map(Swift.abs).max() ?? 0, 1e-300)
            return ours.maxAbsDifference(expected) / scale
        }
    }
}

/// Gradient checks of one op: the loss is Σ op(operands) · weights with random weights, so every element of
/// the result carries a different upstream gradient.
enum VJPCheck {
    /// Builds op(operands) over trainable float64 parameters `p0`, `p1`, … of `shapes`, checks every parameter's
    /// gradient against finite differences, and records a failure per parameter that misses. `values` fixes
    /// some parameters (by index); the rest are uniform in [−1, 1].
    static func gradcheck(
        _ label: String, _ shapes: [[Int]], values: [Int: Tensor] = [:], samples: Int = 16,
        sourceLocation: Testing.SourceLocation = #_sourceLocation,
        _ build: (GraphBuilder, [ValueID]) throws -> ValueID
    ) throws {
        let b = GraphBuilder(name: "gradcheck")
        let params = shapes.enumerated().map { b.parameter("p\($0.offset)", TensorType(.f64, $0.element)) }
        let y = try build(b, params)
        let weights = b.input("weights", b.type(of: y))
        b.loss("loss", try b.reduceSum(b.mul(y, weights), axes: Array(0..<b.shape(of: y).count)))
        var checker = GradientChecker()
        checker.samples = samples
        // A seed from the label (FNV-1a), so each check draws its own, reproducible values.
        checker.seed = label.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        var arguments: [String: Tensor] = [:]
        for (i, t) in values { arguments["p\(i)"] = t }
        let results = try checker.check(b.graph, arguments: arguments)
        #expect(results.count == shapes.count, "\(label): every operand is checked", sourceLocation: sourceLocation)
        for r in results {
            #expect(r.passed && r.checked > 0,
                    "\(label) \(r.name) \(r.type): worst relative error \(r.worstRelativeError) at \(String(describing: r.worstElement)), \(r.checked) checked",
                    sourceLocation: sourceLocation)
        }
    }

    /// A float64 tensor of uniform values in `range`, reproducible from `seed`.
    static func random(_ shape: [Int], seed: UInt64, in range: ClosedRange<Double> = -1...1) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor.random(TensorType(.f64, shape), in: range, using: &rng)
    }

    /// Σ a·b over all elements.
    static func dot(_ a: Tensor, _ b: Tensor) -> Double {
        precondition(a.shape == b.shape, "dot: \(a.shape) vs \(b.shape)")
        return zip(a.scalars, b.scalars).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// Runs a graph over inputs `x0`, `x1`, … built by `build` and returns its single output.
    static func run(_ inputs: [Tensor], _ build: (GraphBuilder, [ValueID]) throws -> ValueID) throws -> Tensor {
        let b = GraphBuilder(name: "run")
        let ids = inputs.enumerated().map { b.input("x\($0.offset)", $0.element.type) }
        b.output("y", try build(b, ids))
        var arguments: [String: Tensor] = [:]
        for (i, t) in inputs.enumerated() { arguments["x\(i)"] = t }
        return try #require(try Interpreter(graph: b.graph).run(arguments)["y"])
    }
}
