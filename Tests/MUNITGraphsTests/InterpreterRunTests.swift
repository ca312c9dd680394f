import Foundation
import GraphIR
import Testing
@testable import MUNITGraphs

/// Freshly initialised small MUNITs of many kinds run on the interpreter and give finite losses.
@Suite struct InterpreterRunTests {
    /// A smaller model than tiny (16×16 images, one ResBlock, two-layer discriminators) so variants run fast.
    static func small(_ replacements: [String: String?]) throws -> MUNITConfig {
        var all: [String: String?] = [
            "batch_size": "1", "crop_image_height": "16", "crop_image_width": "16", "gen.dim": "4", "gen.mlp_dim": "8",
            "gen.style_dim": "2", "gen.n_res": "1", "dis.dim": "4", "dis.n_layer": "2",
        ]
        all.merge(replacements) { $1 }
        return try Fixtures.tinyConfig(all)
    }

    static let variants: [[String: String?]] = [
        ["gen.activ": "prelu", "dis.activ": "prelu", "dis.norm": "bn"],
        ["gen.activ": "selu", "dis.activ": "tanh", "dis.norm": "ln", "dis.gan_type": "nsgan"],
        ["gen.activ": "lrelu", "dis.activ": "none", "dis.norm": "in", "gen.pad_type": "zero", "dis.pad_type": "replicate"],
        ["gen.activ": "tanh", "recon_x_cyc_w": "10", "gen.pad_type": "replicate", "init": "xavier"],
        ["gen.activ": "none", "gen.n_res": "0", "batch_size": "3", "crop_image_width": "32", "init": "orthogonal"],
        ["gen.n_downsample": "1", "dis.num_scales": "3", "init": "gaussian", "gen.n_res": "2"],
    ]

    @Test(arguments: variants)
    func lossGraphsRunWithFreshParameters(_ replacements: [String: String?]) throws {
        let c = try Self.small(replacements)
        let parameters = initialMUNITParameters(config: c, seed: 42)
        var rng = SplitMix64(seed: 9)
        for kind in [MUNITGraphKind.disLoss, .genLoss, .translate] {
            let graph = try buildMUNITGraph(kind, config: c)
            var arguments: [String: Tensor] = [:]
            for arg in graph.arguments {
                arguments[arg.name] = try parameters[arg.name] ?? {
                    guard !arg.isParameter else { throw MUNITGraphError("no initial value for \(arg.name)") }
                    return Tensor.random(graph.type(of: arg.value), using: &rng)
                }()
            }
            let outputs = try Interpreter(graph: graph).run(arguments)
            for output in graph.outputs {
                let t = try #require(outputs[output.name])
                #expect(t.scalars.allSatisfy { $0.isFinite }, "\(kind.rawValue) \(output.name) is not finite")
            }
            if let loss = graph.lossOutput { #expect(outputs[loss.name]!.scalars[0] > 0, "\(kind.rawValue) loss") }
        }
    }

    /// PyTorch's training-mode BatchNorm2d updates running statistics on every forward pass: with the dis
    /// loss applying each discriminator to the fake batch and then to the real one, the mean becomes
    /// 0.9 · (0.1 · m_fake) + 0.1 · m_real and the variance 0.9 · (0.9 + 0.1 · v_fake) + 0.1 · v_real, the
    /// variances unbiased.
    @Test func batchNormRunningStatisticsFollowPyTorch() throws {
        let context = MUNITGraphContext(builder: GraphBuilder(name: "bn"), trainable: [.disA])
        let b = context.builder
        let fake = b.input("fake", TensorType(.f32, [2, 3, 4, 5]))
        let real = b.input("real", TensorType(.f32, [2, 3, 4, 5]))
        // A 1×1 identity convolution, so the batch norm sees the inputs themselves.
        let block = Conv2dBlock(Scope(context, .disA, prefix: "block"), input: 3, output: 3, kernel: 1, stride: 1,
                                padding: 0, norm: .batch, activation: .none, padType: .reflect)
        b.output("y_fake", try block.apply(fake))
        b.output("y_real", try block.apply(real))
        context.addBufferUpdateOutputs()
        let graph = b.graph
        #expect(graph.outputs.map(\.name) == ["y_fake", "y_real", "next.block.norm.running_mean", "next.block.norm.running_var"])

        var rng = SplitMix64(seed: 4)
        let x = Tensor.random(TensorType(.f32, [2, 3, 4, 5]), using: &rng)
        let y = Tensor.random(TensorType(.f32, [2, 3, 4, 5]), in: 0...3, using: &rng)
        var identity = [Double](repeating: 0, count: 9)
        for i in 0..<3 { identity[i * 3 + i] = 1 }
        let outputs = try Interpreter(graph: graph).run([
            "fake": x, "real": y,
            "block.conv.weight": Tensor(.f32, shape: [3, 3, 1, 1], scalars: identity),
            "block.conv.bias": Tensor(.f32, shape: [3], scalars: [0, 0, 0]),
            "block.norm.weight": Tensor(.f32, shape: [3], scalars: [1, 1, 1]),
            "block.norm.bias": Tensor(.f32, shape: [3], scalars: [0, 0, 0]),
            "block.norm.running_mean": Tensor(.f32, shape: [3], scalars: [0, 0, 0]),
            "block.norm.running_var": Tensor(.f32, shape: [3], scalars: [1, 1, 1]),
        ])
        func statistics(_ t: Tensor, channel: Int) -> (mean: Double, unbiasedVariance: Double) {
            let values = (0..<2).flatMap { n in (0..<20).map { t.scalars[(n * 3 + channel) * 20 + $0] } }
            let mean = values.reduce(0, +) / 40
            return (mean, values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 39)
        }
        for channel in 0..<3 {
            let (mf, vf) = statistics(x, channel: channel), (mr, vr) = statistics(y, channel: channel)
            let mean = try #require(outputs["next.block.norm.running_mean"]).scalars[channel]
            let variance = try #require(outputs["next.block.norm.running_var"]).scalars[channel]
            #expect(abs(mean - (0.9 * 0.1 * mf + 0.1 * mr)) < 1e-6)
            #expect(abs(variance - (0.9 * (0.9 + 0.1 * vf) + 0.1 * vr)) < 1e-6)
        }
    }

    /// translate a2b with the gen step's x_a and s_b is the gen step's x_ab.
    @Test(.enabled(if: Fixtures.tinyReference != nil, "shared/reference/tiny/reference.safetensors is absent"))
    func translateReproducesTheReferenceCrossDomainImage() throws {
        let reference = try #require(Fixtures.tinyReference)
        let graph = try buildMUNITGraph(.translate, config: try Fixtures.tinyConfig())
        var arguments = ["x": try #require(reference["iter1.x_a"]), "s": try #require(reference["iter1.gen.s_b"])]
        for p in graph.parameters { arguments[p.name] = reference["param.\(p.name)"] }
        let outputs = try Interpreter(graph: graph).run(arguments)
        let m = median(reference.filter { $0.key.contains(".act.") }.map { l2Norm($0.value) })
        #expect(relativeDistance(try #require(outputs["x_translated"]), try #require(reference["iter1.act.x_ab"]), scale: m) < 1e-3)
        #expect(relativeDistance(try #require(outputs["c"]), try #require(reference["iter1.act.c_a"]), scale: m) < 1e-3)
    }
}
