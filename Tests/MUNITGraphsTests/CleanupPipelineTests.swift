import Foundation
import GraphIR
import Passes
import Testing
@testable import MUNITGraphs

/// The clean-up passes on MUNIT's step graphs (tiny config): what they remove, and that the interpreter
/// computes the same step before and after them.
@Suite(.serialized) struct CleanupPipelineTests {
    /// The step as autodiff, Adam and (the tiny config's batch being 2) its samples as virtual ranks leave it,
    /// before any clean-up.
    func rawStep(_ kind: MUNITGraphKind, _ config: MUNITConfig) throws -> Graph {
        let size = try GraphSize(config, MUNITGraphOptions())
        let loss = try kind == .genStep ? genLossGraph(config, size.oneSample) : disLossGraph(config, size.oneSample)
        return try PassManager(pipeline: stepPasses(config: config, size: size, average: false)).run(loss).0
    }

    /// Initial NVlabs parameters with random biases (NVlabs initialises them to zero, which would make
    /// dropping them trivially exact), random images and style codes, and non-zero Adam moments (zero
    /// moments would turn the rounding noise of a cancelled bias's gradient into a ±lr step, which is not
    /// what the comparison is about).
    func arguments(_ graph: Graph, _ config: MUNITConfig) -> [String: Tensor] {
        var arguments = initialMUNITParameters(config: config, seed: 3)
        var rng = SplitMix64(seed: 4)
        // In name order: a dictionary's order changes from run to run, and so would the draws.
        for (name, tensor) in arguments.sorted(by: { $0.key < $1.key }) where name.hasSuffix(".bias") {
            arguments[name] = Tensor.random(tensor.type, in: -0.5...0.5, using: &rng)
        }
        for arg in graph.arguments where arguments[arg.name] == nil {
            let type = graph.type(of: arg.value)
            arguments[arg.name] = arg.name.hasPrefix("optimizer.v.") ? Tensor.random(type, in: 1e-6...1e-4, using: &rng)
                : arg.name.hasPrefix("optimizer.m.") ? Tensor.random(type, in: -1e-3...1e-3, using: &rng)
                : Tensor.random(type, using: &rng)
        }
        arguments[OptimizerNames.step] = Tensor(TensorType(.f32, []), scalars: [3])
        arguments[OptimizerNames.learningRate] = Tensor(TensorType(.f32, []), scalars: [1e-4])
        return arguments
    }

    @Test(arguments: [MUNITGraphKind.disStep, .genStep])
    func cleanupKeepsTheStepAndDropsCancelledBiases(_ kind: MUNITGraphKind) throws {
        let config = try Fixtures.tinyConfig()
        let raw = try rawStep(kind, config)
        let (clean, records) = try PassManager(pipeline: PassRegistry.cleanupPipeline()).run(raw)
        report(kind.rawValue, raw, records)
        var named = clean
        named.name = kind == .genStep ? "munit_gen_step" : "munit_dis_step"
        #expect(printGraph(try buildMUNITGraph(kind, config: config)) == printGraph(named), "the step graphs run this pipeline")
        #expect(clean.nodes.count < raw.nodes.count)

        // Conv biases before instance norm / AdaIN lose their work: in both steps for the generators'
        // forward passes (gen-step runs each network several times). Where they are trained (gen-step),
        // their gradients become zero constants; nothing else's does.
        func convBiases(_ graph: Graph) -> Set<String> {
            let names = Dictionary(uniqueKeysWithValues: graph.arguments.map { ($0.value, $0) })
            return Set(graph.nodes.filter { $0.op === Ops.conv2d && $0.operands.count == 3 }.compactMap { names[$0.operands[2]]?.name })
        }
        let droppedBiases = convBiases(raw).subtracting(convBiases(clean))
        let trainable = Set(raw.trainableParameters.map(\.name))
        let zeroGradients = Set(clean.outputs.filter { o in
            o.name.hasPrefix("grad.") && clean.definingNode(of: o.value).map { $0.op === Ops.constant } == true
        }.map(\.name))
        #expect(droppedBiases.count == 22, "the tiny generators' 2 × 11 conv biases before a norm: \(droppedBiases.sorted())")
        #expect(droppedBiases.allSatisfy { $0.hasPrefix("gen_") && $0.hasSuffix(".conv.bias") })
        #expect(zeroGradients == Set(droppedBiases.filter(trainable.contains).map { "grad.\($0)" }))
        #expect(zeroGradients.isEmpty == (kind == .disStep))
        #expect(clean.arguments.map(\.name) == raw.arguments.map(\.name), "every parameter stays")

        let inputs = arguments(raw, config)
        let before = try Interpreter(graph: raw).run(inputs), after = try Interpreter(graph: clean).run(inputs)
        let gradientScale = median(before.filter { $0.key.hasPrefix("grad.") }.map { l2Norm($0.value) })
        var worst = (0.0, "")
        for output in raw.outputs {
            let b = try #require(before[output.name]), a = try #require(after[output.name])
            if zeroGradients.contains(output.name) {
                #expect(l2Norm(b) < 1e-5 * gradientScale, "\(output.name) was rounding noise, norm \(l2Norm(b))")
                #expect(a.scalars.allSatisfy { $0 == 0 })
                continue
            }
            let error = relativeDistance(a, b, scale: gradientScale)
            if error > worst.0 { worst = (error, output.name) }
        }
        print("\(kind.rawValue): worst relative distance \(worst.0) at \(worst.1)")
        #expect(worst.0 < 1e-4, "\(worst.1): relative distance \(worst.0)")
    }

    /// The fusion pipeline on the finished steps: the interpreter (which runs each fused node's region op by
    /// op) computes the same step bit for bit, and every fusion pass finds work in MUNIT's gen step.
    @Test(arguments: [MUNITGraphKind.disStep, .genStep])
    func fusionKeepsTheStep(_ kind: MUNITGraphKind) throws {
        let config = try Fixtures.tinyConfig()
        let step = try buildMUNITGraph(kind, config: config)
        let (fused, records) = try PassManager(pipeline: PassRegistry.fusionPipeline()).run(step)
        #expect(fused.nodes.count < step.nodes.count / 2, "\(step.nodes.count) → \(fused.nodes.count) nodes")
        if kind == .genStep {
            for record in records where record.name != "dce" {
                #expect(record.nodesAfter < record.nodesBefore, "\(record.name) fused nothing in the gen step")
            }
        }
        let inputs = arguments(step, config)
        let before = try Interpreter(graph: step).run(inputs), after = try Interpreter(graph: fused).run(inputs)
        for output in step.outputs {
            #expect(after[output.name]?.scalars == before[output.name]?.scalars, "\(output.name) changed")
        }
    }

    /// Node counts on the NVlabs layout of edges2shoes (dim 64, 4 residual blocks, 4-layer discriminators
    /// at 3 scales, 256×256, batch 1) and the built-in config: graph construction only, the interpreter would take minutes.
    @Test func cleanupShrinksLargerConfigurations() throws {
        let nvlabs = try MUNITConfig.parse(yaml: Fixtures.tinyYAML
            .replacingOccurrences(of: "  dim: 8", with: "  dim: 64")
            .replacingOccurrences(of: "mlp_dim: 16", with: "mlp_dim: 256")
            .replacingOccurrences(of: "style_dim: 4", with: "style_dim: 8")
            .replacingOccurrences(of: "n_res: 2", with: "n_res: 4")
            .replacingOccurrences(of: "n_layer: 3", with: "n_layer: 4")
            .replacingOccurrences(of: "num_scales: 2", with: "num_scales: 3")
            .replacingOccurrences(of: "batch_size: 2", with: "batch_size: 1")
            .replacingOccurrences(of: ": 32\n", with: ": 256\n"), file: "edges2shoes-layout.yaml")
        for (label, config) in [("built-in", MUNITConfig.builtIn()), ("edges2shoes layout", nvlabs)] {
            for kind in [MUNITGraphKind.disStep, .genStep] {
                let raw = try rawStep(kind, config)
                let (clean, records) = try PassManager(pipeline: PassRegistry.cleanupPipeline()).run(raw)
                report("\(label) \(kind.rawValue)", raw, records)
                #expect(clean.nodes.count < raw.nodes.count)
                #expect(records.reduce(0) { $0 + $1.statistics["conv-biases-dropped"] } > 0)
            }
        }
    }

    /// One line per graph for the build notes: nodes after each pass, its statistics and time, and the
    /// cost model's totals against the previous pipeline (autodiff, adam, dce).
    func report(_ label: String, _ raw: Graph, _ records: [PassRecord]) {
        func totals(_ g: Graph) -> String {
            let cost = g.nodes.reduce(Cost(flops: 0, bytes: 0)) { sum, node in
                sum + node.op.cost(node.operands.map(g.type(of:)), node.results.map(g.type(of:)), node.attributes)
            }
            return "\(g.nodes.count) nodes, \(String(format: "%.4f GFLOP, %.1f MB", Double(cost.flops) / 1e9, Double(cost.bytes) / 1e6))"
        }
        var unused = PassStatistics()
        let previous = (try? DeadCodeElimination().run(raw, statistics: &unused)) ?? raw
        let clean = (try? PassManager(pipeline: PassRegistry.cleanupPipeline()).run(raw).0) ?? raw
        print("\(label): autodiff+adam \(raw.nodes.count) nodes; " + records.map { record in
            let counters = record.statistics.counters.map { "\($0.0)=\($0.1)" }.joined(separator: ", ")
            return "\(record.name) → \(record.nodesAfter) (\(counters); \(String(format: "%.2f", record.seconds)) s)"
        }.joined(separator: "; ") + "\n  previous pipeline (dce only): \(totals(previous)); clean-up: \(totals(clean))")
    }
}
