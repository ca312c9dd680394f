import Foundation
import GraphIR

/// Reverse-mode differentiation on the IR (micrograd/JAX style): a reverse topological walk that calls each
/// op's VJP rule, summing the gradients of values used several times. It appends the gradient computation as
/// ordinary IR and adds an output `grad.<name>` for every argument differentiated against; an argument the
/// loss does not reach gets an explicit zero gradient. `stop_gradient` (any op with the `gradientBarrier`
/// trait) blocks gradients.
public struct Autodiff: Pass {
    public static let name = "autodiff"
    public let summary = "append the gradient of the loss output with respect to the trainable parameters"

    /// Which arguments to differentiate against; by default the trainable parameters.
    public var wrt: @Sendable (GraphArgument) -> Bool

    public init(wrt: @escaping @Sendable (GraphArgument) -> Bool = { $0.isTrainable }) { self.wrt = wrt }

    /// Differentiates with respect to trainable parameters whose name matches `pattern` (whole-name match),
    /// or all trainable parameters when `pattern` is nil.
    public init(matching pattern: String?) throws {
        guard let pattern else {
            self.init()
            return
        }
        let regex: NSRegularExpression
        do { regex = try NSRegularExpression(pattern: "^(?:\(pattern))$") } catch {
            throw PassError(pass: Self.name, "'\(pattern)' is not a valid regular expression")
        }
        self.init(wrt: { arg in
            arg.isTrainable && regex.firstMatch(in: arg.name, range: NSRange(arg.name.startIndex..., in: arg.name)) != nil
        })
    }

    /// The name of the output holding the gradient of argument `name`.
    public static func gradientName(_ name: String) -> String { "grad.\(name)" }

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        guard let loss = graph.lossOutput else {
            throw PassError(pass: name, "the graph has no loss output to differentiate (mark one with `loss NAME = %v`)")
        }
        let targets = graph.arguments.filter(wrt)
        if targets.isEmpty {
            throw PassError(pass: name, "no argument to differentiate against (no trainable parameter matches)")
        }
        for t in targets where graph.output(named: Autodiff.gradientName(t.name)) != nil {
            throw PassError(pass: name, "output '\(Autodiff.gradientName(t.name))' already exists; was the graph differentiated twice?")
        }
        let active = activeValues(graph, targets: targets, loss: loss.value)

        let builder = GraphBuilder(graph: graph)
        var gradients: [ValueID: ValueID] = [:]
        func accumulate(_ value: ValueID, _ gradient: ValueID) throws {
            if let existing = gradients[value] {
                gradients[value] = try builder.add(existing, gradient)
                statistics["gradient-sums"] += 1
            } else {
                gradients[value] = gradient
            }
        }
        let lossType = graph.type(of: loss.value)
        gradients[loss.value] = try builder.constant(value: 1, shape: lossType.shape, dtype: lossType.dtype)

        for node in graph.nodes.reversed() {
            let upstream = node.results.map { gradients[$0] }
            guard upstream.contains(where: { $0 != nil }),
                  node.operands.contains(where: { active[$0.index] }) else { continue }
            guard let rule = node.op.vjp else {
                if node.op.traits.contains(.gradientBarrier) { continue }
                throw PassError(pass: name, "'\(node.op.name)' has no VJP rule, but the loss depends on it through a differentiated value")
            }
            let context = VJPContext(builder: builder, operands: node.operands, results: node.results,
                                     upstream: upstream, attributes: node.attributes)
            let operandGradients: [ValueID?]
            do { operandGradients = try rule(context) } catch {
                throw PassError(pass: name, "VJP of '\(node.op.name)' failed: \(error)")
            }
            guard operandGradients.count == node.operands.count else {
                throw PassError(pass: name, "VJP of '\(node.op.name)' returned \(operandGradients.count) gradients for \(node.operands.count) operands")
            }
            for (operand, gradient) in zip(node.operands, operandGradients) where active[operand.index] {
                guard let gradient else { continue }
                guard builder.type(of: gradient) == graph.type(of: operand) else {
                    throw PassError(pass: name, "VJP of '\(node.op.name)' gave a gradient of type \(builder.type(of: gradient)) for an operand of type \(graph.type(of: operand))")
                }
                try accumulate(operand, gradient)
            }
            statistics["nodes-differentiated"] += 1
        }

        for target in targets {
            let type = graph.type(of: target.value)
            let gradient: ValueID
            if let g = gradients[target.value] {
                gradient = g
            } else {
                gradient = try builder.constant(value: 0, shape: type.shape, dtype: type.dtype)
                statistics["zero-gradients"] += 1
            }
            builder.output(Autodiff.gradientName(target.name), gradient)
        }
        statistics["nodes-added"] = builder.graph.nodes.count - graph.nodes.count
        return builder.graph
    }

    /// Values that both depend on a target and reach the loss, through ops that pass gradients: only these
    /// need gradients.
    func activeValues(_ graph: Graph, targets: [GraphArgument], loss: ValueID) -> [Bool] {
        var dependsOnTarget = [Bool](repeating: false, count: graph.values.count)
        for t in targets { dependsOnTarget[t.value.index] = true }
        for node in graph.nodes where !node.op.traits.contains(.gradientBarrier) {
            if node.operands.contains(where: { dependsOnTarget[$0.index] }) {
                for r in node.results { dependsOnTarget[r.index] = true }
            }
        }
        var reachesLoss = [Bool](repeating: false, count: graph.values.count)
        reachesLoss[loss.index] = true
        for node in graph.nodes.reversed() where !node.op.traits.contains(.gradientBarrier) {
            if node.results.contains(where: { reachesLoss[$0.index] }) {
                for o in node.operands { reachesLoss[o.index] = true }
            }
        }
        return zip(dependsOnTarget, reachesLoss).map { $0 && $1 }
    }
}
