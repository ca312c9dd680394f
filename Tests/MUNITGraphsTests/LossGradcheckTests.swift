import GraphIR
import Passes
import Testing
@testable import MUNITGraphs

/// Finite-difference checks of autodiff on MUNIT's own loss graphs, over the configuration options: every
/// activation, padding, discriminator norm, GAN type, the cycle loss, non-square crops. Networks are made
/// narrow (dim 2) so each check takes seconds on the interpreter.
@Suite struct LossGradcheckTests {
    static let narrow: [String: String?] = [
        "gen.dim": "2", "gen.mlp_dim": "4", "gen.style_dim": "2", "gen.n_res": "1", "dis.dim": "2", "batch_size": "1",
    ]
    static let variants: [[String: String?]] = [
        ["gen.activ": "prelu", "gen.pad_type": "replicate", "dis.norm": "in", "dis.gan_type": "nsgan", "recon_x_cyc_w": "1"],
        ["gen.activ": "selu", "gen.pad_type": "zero", "gen.n_downsample": "1", "dis.norm": "ln", "dis.activ": "tanh",
         "dis.num_scales": "1", "dis.n_layer": "2"],
        ["gen.activ": "lrelu", "dis.norm": "bn", "dis.activ": "prelu", "dis.pad_type": "replicate",
         "crop_image_width": "48", "dis.num_scales": "2"],
        ["dis.num_scales": "3", "dis.n_layer": "2", "dis.norm": "in", "gen.n_res": "0", "gen.n_downsample": "3"],
        ["gen.activ": "tanh", "dis.activ": "selu", "dis.pad_type": "zero", "gan_w": "2", "recon_s_w": "0.5"],
    ]

    @Test(arguments: 0..<variants.count, [MUNITGraphKind.disLoss, .genLoss])
    func lossGraphPassesGradcheck(variant: Int, kind: MUNITGraphKind) throws {
        let config = try Fixtures.tinyConfig(Self.narrow.merging(Self.variants[variant]) { _, new in new })
        try Self.expectGradcheckPasses(kind, config: config, variant: variant)
    }

    /// Two sampled elements of every trainable parameter of `config`'s `kind` graph against finite differences.
    static func expectGradcheckPasses(_ kind: MUNITGraphKind, config: MUNITConfig, variant: Int) throws {
        let graph = try buildMUNITGraph(kind, config: config)
        var checker = GradientChecker()
        checker.samples = 2
        checker.exhaustiveLimit = 2
        checker.seed = UInt64(variant)
        let results = try checker.check(graph)
        #expect(results.count == graph.trainableParameters.count)
        for r in results {
            #expect(r.passed, "\(config.trainer.rawValue) variant \(variant) \(kind.rawValue) \(r.name): \(r.worstRelativeError)")
        }
    }

    /// Issue 17: what `munitc export --graph dis-loss|gen-loss` then `munitc gradcheck` does with its defaults
    /// (the text round trip, parameters drawn at a fresh network's scale, 4 samples) passes for every GAN type,
    /// discriminator norm and activation (the generator's AdaIN, instance and layer norms are in every
    /// gen-loss graph). Twelve variants cover each (GAN type, norm) and (GAN type, activation) pair, for the
    /// generator's and the discriminator's activation alike, at 16×16 crops (the style encoder halves four times).
    static let activations = MUNITConfig.Activation.allCases.map(\.rawValue)
    static let norms = MUNITConfig.DiscriminatorNorm.allCases.map(\.rawValue)
    static let defaultsMatrix: [[String: String?]] = MUNITConfig.GANType.allCases.flatMap { gan in
        activations.indices.map { i in
            ["dis.gan_type": gan.rawValue, "dis.norm": norms[i % norms.count], "dis.activ": activations[i],
             "gen.activ": activations[(i + 3) % activations.count], "crop_image_height": "16", "crop_image_width": "16",
             "new_size": "16", "gen.n_downsample": "1", "dis.n_layer": "2", "dis.num_scales": "1"]
        }
    }

    @Test(arguments: 0..<defaultsMatrix.count, [MUNITGraphKind.disLoss, .genLoss])
    func exportedLossGraphPassesGradcheckWithDefaults(variant: Int, kind: MUNITGraphKind) throws {
        let config = try Fixtures.tinyConfig(Self.narrow.merging(Self.defaultsMatrix[variant]) { _, new in new })
        let graph = try parseGraph(printGraph(try buildMUNITGraph(kind, config: config)))
        let results = try GradientChecker().check(graph)
        #expect(results.count == graph.trainableParameters.count)
        let setting = Self.defaultsMatrix[variant].filter { $0.key.hasPrefix("dis.") || $0.key == "gen.activ" }
        for r in results {
            #expect(r.passed, "\(setting) \(kind.rawValue) \(r.name): \(r.worstRelativeError) \(r.flatness ?? "")")
        }
    }

    /// A discriminator wide enough that [−1, 1] parameters saturate its nsgan sigmoid: the old default draw
    /// failed most parameters (issue 17); the fan-in draw passes them all, and the uniform draw now reports
    /// each one it cannot judge as flat, naming the saturated nodes, rather than as failing.
    @Test func saturatingDrawIsReportedAsFlatNotFailing() throws {
        let config = try Fixtures.tinyConfig(["dis.gan_type": "nsgan", "dis.num_scales": "1", "gen.dim": "2", "batch_size": "1"])
        let graph = try buildMUNITGraph(.disLoss, config: config)
        let fanIn = try GradientChecker().check(graph)
        #expect(fanIn.allSatisfy { $0.passed })
        var checker = GradientChecker()
        checker.draw = .uniform
        let uniform = try checker.check(graph)
        let flat = uniform.filter { !$0.passed }
        #expect(!flat.isEmpty, "the uniform draw no longer saturates this discriminator: the test checks nothing")
        for r in flat {
            #expect(!r.failed)
            #expect(r.flatness?.contains("sigmoid") == true || r.flatness?.contains("binary_cross_entropy") == true)
        }
    }
}
