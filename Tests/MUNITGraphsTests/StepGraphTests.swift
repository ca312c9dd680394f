import Foundation
import GraphIR
import Passes
import Testing
@testable import MUNITGraphs

/// The step graphs: autodiff and Adam on the loss graphs. Building them needs a VJP rule for every op the
/// losses use; a missing rule fails these tests with the pass's message naming the op.
@Suite struct StepGraphTests {
    @Test func stepGraphsHaveGradientsAndUpdatesForExactlyTheTrainableNetworks() throws {
        let config = try Fixtures.tinyConfig()
        for (kind, trained) in [(MUNITGraphKind.disStep, ["dis_a.", "dis_b."]), (.genStep, ["gen_a.", "gen_b."])] {
            let graph = try buildMUNITGraph(kind, config: config)
            #expect(verify(graph).isEmpty, "\(kind.rawValue): \(verify(graph).map(\.message))")
            let layout = MUNITLayout(config: config)
            let expected = Set(layout.parameters.map(\.name).filter { name in trained.contains { name.hasPrefix($0) } })
            let gradients = Set(graph.outputs.map(\.name).filter { $0.hasPrefix("grad.") }.map { String($0.dropFirst(5)) })
            #expect(gradients == expected, "\(kind.rawValue): gradients for the wrong parameters")
            for name in expected {
                #expect(graph.output(named: "next.\(name)") != nil)
                #expect(graph.argument(named: "optimizer.m.\(name)") != nil)
            }
            #expect(graph.argument(named: OptimizerNames.learningRate) != nil)
            #expect(graph.argument(named: OptimizerNames.step) != nil)
        }
    }

    /// The dis and gen steps' gradients against PyTorch's (`iter1.grad.*`), by the README's gradient rule.
    @Test(.enabled(if: Fixtures.tinyReference != nil, "shared/reference/tiny/reference.safetensors is absent"),
          arguments: [MUNITGraphKind.disStep, .genStep])
    func gradientsAndUpdatesMatchReference(_ kind: MUNITGraphKind) throws {
        let reference = try #require(Fixtures.tinyReference)
        let step = kind == .disStep ? "dis" : "gen"
        let graph = try buildMUNITGraph(kind, config: Fixtures.tinyConfig())
        var arguments = try referenceArguments(for: graph.withoutOptimizerArguments, reference, step: step)
        for arg in graph.arguments where arg.name.hasPrefix("optimizer.") {
            arguments[arg.name] = arg.name == OptimizerNames.step ? Tensor(TensorType(.f32, []), scalars: [1])
                : arg.name == OptimizerNames.learningRate ? Tensor(TensorType(.f32, []), scalars: [1e-4])
                : Tensor.zeros(graph.type(of: arg.value))
        }
        let outputs = try Interpreter(graph: graph).run(arguments)
        let m = median(reference.filter { $0.key.contains(".grad.") }.map { l2Norm($0.value) })
        var worst = 0.0
        var checked = 0
        for (key, ref) in reference where key.hasPrefix("iter1.grad.\(step).") {
            let name = String(key.dropFirst("iter1.grad.\(step).".count))
            let ours = try #require(outputs["grad.\(name)"], "no gradient output for \(name)")
            if l2Norm(ref) < 1e-5 * m {
                #expect(l2Norm(ours) < 1e-4 * m, "\(name): null reference gradient, ours has norm \(l2Norm(ours))")
            } else {
                let error = relativeDistance(ours, ref, scale: m)
                worst = Swift.max(worst, error)
                #expect(error <= 1e-2, "\(name): relative distance \(error)")
            }
            checked += 1
        }
        #expect(checked > 0)

        // Adam's first step: at most 0.1% of the elements may move more than 1% of lr away from PyTorch's
        // update; null-gradient tensors are skipped (Adam turns their rounding noise into ±lr steps).
        var outliers = 0, total = 0
        for (key, ref) in reference where key.hasPrefix("iter1.grad.\(step).") && l2Norm(ref) >= 1e-5 * m {
            let name = String(key.dropFirst("iter1.grad.\(step).".count))
            let before = try #require(reference["param.\(name)"]), after = try #require(reference["iter1.after.\(name)"])
            let ours = try #require(outputs["next.\(name)"], "no update of \(name)")
            for i in before.scalars.indices {
                let ourStep = ours.scalars[i] - before.scalars[i], theirStep = after.scalars[i] - before.scalars[i]
                if Swift.abs(ourStep - theirStep) > 1e-2 * 1e-4 { outliers += 1 }
            }
            total += before.scalars.count
        }
        #expect(Double(outliers) <= 1e-3 * Double(total), "\(outliers) of \(total) updates off by more than 1% of lr")
        print("\(kind.rawValue) parity: \(checked) gradients, worst relative distance \(worst); "
            + "\(outliers) of \(total) updated elements off by > 1% lr")
    }
}

extension Graph {
    /// A copy of the graph's argument list without the optimiser's inputs, so reference lookups skip them.
    var withoutOptimizerArguments: Graph {
        let builder = GraphBuilder(name: name)
        for arg in arguments where !arg.name.hasPrefix("optimizer.") {
            switch arg.kind {
            case .input: _ = builder.input(arg.name, type(of: arg.value))
            case .parameter(let trainable): _ = builder.parameter(arg.name, type(of: arg.value), trainable: trainable)
            }
        }
        return builder.graph
    }
}
