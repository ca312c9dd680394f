import Foundation
import GraphIR
import Testing

@Suite(.serialized) struct BuildGradcheckCLITests {
    @Test func gradcheckPassesOnEveryExampleGraph() throws {
        for example in ["Examples/conv_in_relu.graph", "Examples/adain_resblock.graph", "Examples/ms_discriminator.graph"] {
            let result = try CLI.run(["gradcheck", example, "--samples", "2"])
            #expect(result.status == 0, "\(example): \(result.stdout)\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.last?.hasPrefix("worst relative error: ") == true)
            let graph = try parseGraph(String(contentsOf: CLI.repository.appendingPathComponent(example), encoding: .utf8))
            #expect(lines.count == graph.trainableParameters.count + 1, "one line per trainable parameter")
        }
    }

    @Test func gradcheckFailsOnAWrongGradient() throws {
        // sign has a zero gradient everywhere; a graph whose loss is a smooth function of it is checkable,
        // but a broken rule would show. Use --wrt to select and a tiny tolerance to force a failure report.
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("g.graph")
        try """
            graph g {
              param %w : f32[6] trainable
              param %v : f32[6] trainable
              %0 = exp(%w) : f32[6]
              %1 = mul(%0, %v) : f32[6]
              %2 = reduce_sum(%1) {axes = [0], keepdims = false} : f32[]
              loss loss = %2
            }
            """.write(to: file, atomically: true, encoding: .utf8)
        let ok = try CLI.run(["gradcheck", file.path, "--wrt", "w"])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout.split(separator: "\n").count == 2, "only w is checked")
        let strict = try CLI.run(["gradcheck", file.path, "--tolerance", "1e-30"])
        #expect(strict.status == 1)
        #expect(strict.stdout.contains("FAIL"))
    }

    /// Issue 17: an nsgan discriminator wide enough that [−1, 1] parameters saturate its sigmoid. Exported,
    /// it passes gradcheck with the defaults and with --init; --draw uniform reports FLAT, not FAIL.
    @Test func exportedSaturatingLossPassesWithDefaults() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("wide.yaml"), graph = dir.appendingPathComponent("dis.graph")
        try ExportReplayCLITests.tinyConfigText
            .replacingOccurrences(of: "dis: {dim: 2, norm: none, activ: lrelu, n_layer: 2, gan_type: nsgan, num_scales: 2",
                                  with: "dis: {dim: 8, norm: none, activ: lrelu, n_layer: 3, gan_type: nsgan, num_scales: 1")
            .write(to: config, atomically: true, encoding: .utf8)
        let export = try CLI.run(["export", "--config", config.path, "--graph", "dis-loss", "-o", graph.path])
        #expect(export.status == 0, "\(export.stderr)")
        let defaults = try CLI.run(["gradcheck", graph.path])
        #expect(defaults.status == 0, "\(defaults.stdout)")
        #expect(!defaults.stdout.contains("FAIL") && !defaults.stdout.contains("FLAT"))
        let initialised = try CLI.run(["gradcheck", graph.path, "--init", config.path])
        #expect(initialised.status == 0, "\(initialised.stdout)")
        #expect(initialised.stderr.contains("from --init"))
        let uniform = try CLI.run(["gradcheck", graph.path, "--draw", "uniform"])
        #expect(uniform.status == 0, "\(uniform.stdout)")
        #expect(uniform.stdout.contains("FLAT") && uniform.stdout.contains("not judged where the loss is flat or clamped"))
        #expect(!uniform.stdout.contains("FAIL"))

        // A dis_ snapshot names dis_a.x as a.x: gradcheck maps it back and uses every parameter of the file.
        let parsed = try parseGraph(String(contentsOf: graph, encoding: .utf8))
        let parameters = parsed.arguments.filter { $0.name.hasPrefix("dis_a.") }
        var snapshot: [String: Tensor] = [:]
        for p in parameters {
            let type = parsed.type(of: p.value)
            snapshot["a." + p.name.dropFirst(6)] = Tensor(type, scalars: (0..<type.elementCount).map { Double($0 % 7) / 70 - 0.04 })
        }
        let file = dir.appendingPathComponent("dis_00000001.safetensors")
        try SafetensorsFile(tensors: snapshot).write(to: file)
        let fromCheckpoint = try CLI.run(["gradcheck", graph.path, "--checkpoint", file.path])
        #expect(fromCheckpoint.status == 0, "\(fromCheckpoint.stdout)\(fromCheckpoint.stderr)")
        #expect(fromCheckpoint.stderr.contains("\(parameters.count) from \(file.path)"), "\(fromCheckpoint.stderr)")
    }

    @Test func buildMakesATrainingStepAndPrintsIRAfterEachPass() throws {
        let result = try CLI.run(["build", "Examples/conv_in_relu.graph", "--train", "adam", "--print-ir-after=all"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("// ----- IR after autodiff -----"))
        #expect(result.stderr.contains("// ----- IR after adam -----"))
        #expect(result.stderr.contains("build report"))
        let step = try parseGraph(result.stdout)
        #expect(step.output(named: "grad.block.conv.weight") != nil)
        #expect(step.output(named: "next.block.conv.weight") != nil)
        #expect(step.argument(named: "optimizer.lr") != nil)

        let disabled = try CLI.run(["build", "Examples/conv_in_relu.graph", "--train", "sgd", "--disable-pass", "sgd"])
        #expect(disabled.status == 0)
        #expect(disabled.stderr.contains("sgd: disabled"))
        #expect(try parseGraph(disabled.stdout).output(named: "next.block.conv.weight") == nil)

        let custom = try CLI.run(["build", "Examples/conv_in_relu.graph", "--passes", "autodiff"])
        #expect(try parseGraph(custom.stdout).output(named: "grad.block.conv.bias") != nil)

        let unknown = try CLI.run(["build", "Examples/conv_in_relu.graph", "--passes", "autodif"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("unknown pass"))
    }

    /// The report's cost is Σ `Graph.cost(of:)` over the built step, fused or not: a fused node counts its
    /// region's flops and its own operands' and results' bytes (its op's own rule says zero). Fusion keeps
    /// intermediates in registers, so fewer bytes move; the flops are the same work.
    @Test func buildReportCountsTheCostOfFusedNodes() throws {
        func build(_ extra: [String]) throws -> (line: String, expected: String, cost: Cost, fusedNodes: Int) {
            let result = try CLI.run(["build", "Examples/conv_in_relu.graph", "--train", "adam"] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            let step = try parseGraph(result.stdout)
            let cost = step.nodes.reduce(Cost(flops: 0, bytes: 0)) { $0 + step.cost(of: $1) }
            let expected = String(format: "%.3f GFLOP, %.1f MB moved per run", Double(cost.flops) / 1e9, Double(cost.bytes) / 1e6)
            let line = result.stderr.split(separator: "\n").first { $0.hasPrefix("  result: ") }.map(String.init) ?? ""
            return (line, expected, cost, step.nodes.filter { $0.region != nil }.count)
        }
        let fused = try build([]), unfused = try build(["--no-fuse"])
        #expect(fused.fusedNodes > 0 && unfused.fusedNodes == 0)
        #expect(fused.line.hasSuffix(fused.expected), "\(fused.line) vs \(fused.expected)")
        #expect(unfused.line.hasSuffix(unfused.expected), "\(unfused.line) vs \(unfused.expected)")
        #expect(fused.cost.flops == unfused.cost.flops)
        #expect(fused.cost.bytes > 0 && fused.cost.bytes < unfused.cost.bytes)
    }
}
