import Foundation
import GraphIR
import Testing
@testable import MUNITGraphs

@Suite struct VGGTests {
    @Test func perceptualLossJoinsTheGenLossWhenVGGWeightIsPositive() throws {
        let c = try Fixtures.tinyConfig(["vgg_w": "0.5"])
        let g = try buildMUNITGraph(.genLoss, config: c)
        #expect(g.output(named: "loss.gen_vgg_a") != nil && g.output(named: "loss.gen_vgg_b") != nil)
        let vggParameters = g.parameters.filter { $0.name.hasPrefix("vgg.") }
        #expect(vggParameters.count == 26 && vggParameters.allSatisfy { !$0.isTrainable })
        #expect(g.argument(named: "vgg.conv1_1.weight").map { g.type(of: $0.value).shape } == [64, 3, 3, 3])
        #expect(g.argument(named: "vgg.conv5_3.bias").map { g.type(of: $0.value).shape } == [512])
        #expect(!MUNITLayout(config: c).parameters.contains { $0.network == .vgg })
        #expect(try buildMUNITGraph(.disLoss, config: c).parameters.allSatisfy { !$0.name.hasPrefix("vgg.") })
        #expect(try buildMUNITGraph(.genLoss, config: Fixtures.tinyConfig()).output(named: "loss.gen_vgg_a") == nil)
    }

    /// NVlabs' vgg_preprocess: BGR order, (x + 1) · 127.5, minus 103.939, 116.779, 123.680.
    @Test func preprocessingMatchesNVlabs() throws {
        let context = MUNITGraphContext(builder: GraphBuilder(name: "vgg_pre"))
        let x = context.builder.input("x", TensorType(.f32, [1, 3, 1, 2]))
        context.builder.output("y", try VGG16(context).preprocess(x))
        let graph = context.builder.graph
        var arguments = ["x": Tensor(.f32, shape: [1, 3, 1, 2], scalars: [-1, 1, 0, 0.5, 0.25, -0.5])]
        for p in graph.parameters { arguments[p.name] = Tensor.zeros(graph.type(of: p.value)) }
        let y = try #require(try Interpreter(graph: graph).run(arguments)["y"]).scalars
        let expected = [0.25, -0.5, 0, 0.5, -1, 1].enumerated().map { i, v in
            (v + 1) * 127.5 - [103.939, 116.779, 123.680][i / 2]
        }
        for (a, e) in zip(y, expected) { #expect(abs(a - e) < 1e-4) }
    }

    /// The perceptual loss on 16×16 images (relu5_3 at 2×2) equals mean((IN(f(x)) − IN(f(y)))²) computed
    /// here from the graph's own relu5_3 features.
    @Test func perceptualLossIsTheMeanSquaredDifferenceOfNormalisedFeatures() throws {
        let context = MUNITGraphContext(builder: GraphBuilder(name: "vgg_loss"))
        let b = context.builder
        let x = b.input("x", TensorType(.f32, [1, 3, 16, 16])), y = b.input("y", TensorType(.f32, [1, 3, 16, 16]))
        b.output("loss", try VGG16(context).perceptualLoss(x, target: y))
        let graph = b.graph
        var rng = SplitMix64(seed: 3)
        var arguments: [String: Tensor] = [:]
        for p in graph.parameters {
            let type = graph.type(of: p.value)
            let bound = (6 / Double(type.shape.dropFirst().reduce(1, *))).squareRoot()  // He uniform
            arguments[p.name] = Tensor.random(type, in: -bound...bound, using: &rng)
        }
        arguments["x"] = Tensor.random(TensorType(.f32, [1, 3, 16, 16]), using: &rng)
        arguments["y"] = Tensor.random(TensorType(.f32, [1, 3, 16, 16]), using: &rng)
        let values = try Interpreter(graph: graph).runAll(arguments, keepingAll: true)
        let norms = graph.nodes.filter { $0.op.name == "instance_norm" }
        #expect(norms.count == 2)
        let features = try norms.map { try #require(values[$0.operands[0].index]) }
        #expect(features.allSatisfy { $0.shape == [1, 512, 2, 2] })
        // Instance norm per channel over the 2×2 plane (biased variance, eps 1e-5), then the mean square.
        func normalised(_ t: Tensor) -> [Double] {
            stride(from: 0, to: t.scalars.count, by: 4).flatMap { start -> [Double] in
                let plane = Array(t.scalars[start..<start + 4])
                let mean = plane.reduce(0, +) / 4
                let variance = plane.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 4
                return plane.map { ($0 - mean) / (variance + 1e-5).squareRoot() }
            }
        }
        let (a, c) = (normalised(features[0]), normalised(features[1]))
        let expected = zip(a, c).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(a.count)
        let loss = try #require(graph.output(named: "loss").flatMap { values[$0.value.index] }).scalars[0]
        #expect(expected > 0.01)
        #expect(abs(loss - expected) <= 1e-5 * expected, "loss \(loss), expected \(expected)")
    }

    @Test func loaderExplainsAMissingOrMalformedWeightsFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("munit-vgg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect { try VGG16.loadWeights(modelPath: folder.path) } throws: { error in
            "\(error)".contains("models/vgg16.safetensors") && "\(error)".contains("models/vgg16.weight") && "\(error)".contains("vgg_w")
        }
        let models = folder.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let wrong = SafetensorsFile(tensors: ["conv1_1.weight": Tensor.zeros(TensorType(.f32, [64, 3, 5, 5]))])
        try wrong.write(to: models.appendingPathComponent("vgg16.safetensors"))
        #expect { try VGG16.loadWeights(modelPath: folder.path) } throws: { error in
            "\(error)".contains("'conv1_1.weight' has shape [64, 3, 5, 5], VGG16 needs [64, 3, 3, 3]")
        }
    }

    /// NVlabs' `models/vgg16.weight` (a legacy PyTorch state_dict) is read directly: conv1_1 loads, and the
    /// fixture's missing conv1_2 is named with the file.
    @Test func loaderReadsNVlabsPyTorchWeights() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("munit-vgg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let models = folder.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/pytorch/vgg16_first_layer.weight")
        try FileManager.default.copyItem(at: fixture, to: models.appendingPathComponent("vgg16.weight"))
        #expect { try VGG16.loadWeights(modelPath: folder.path) } throws: { error in
            "\(error)".contains("models/vgg16.weight: no tensor 'conv1_2.weight'")
        }
        let tensors = try PyTorchFile(contentsOf: models.appendingPathComponent("vgg16.weight")).tensors()
        #expect(tensors["conv1_1.weight"]?.shape == [64, 3, 3, 3] && tensors["conv1_1.bias"]?.scalars[63] == 63)
    }
}
