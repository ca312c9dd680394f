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
}
