import Foundation
import GraphIR
import Passes
import Testing
import TestSupport
@testable import MUNITGraphs

/// UNIT (`--trainer UNIT`): its config keys, its `state_dict` layout, the shape of its graphs, and autodiff
/// on its losses over configuration variants. Its numbers against NVlabs' own UNIT_Trainer are checked by
/// the replay tests (TrainingTests.UNITReplayTests).
@Suite struct UNITGraphTests {
    @Test func configNeedsUNITsWeightsAndWarnsAboutMUNITsKeys() throws {
        let c = try Fixtures.unitTinyConfig()
        #expect(c.trainer == .unit && c.reconKLW == 0.01 && c.reconKLCycW == 0.01 && c.reconXCycW == 10)
        #expect(c.warnings.isEmpty, "\(c.warnings)")
        for key in ["recon_kl_w", "recon_kl_cyc_w", "recon_x_cyc_w"] {
            #expect { try Fixtures.unitTinyConfig([key: nil]) } throws: { error in
                let e = error as? MUNITConfigError
                return e?.key == key && e?.message.contains("UNIT needs it") == true
            }
        }
        let withMUNITKeys = try Fixtures.unitTinyConfig(["recon_s_w": "1", "gen.activ": "relu\n  style_dim: 8", "recon_c_w": "1"])
        #expect(Set(withMUNITKeys.warnings.map(\.key)) == ["recon_s_w", "recon_c_w", "gen.style_dim"])
        #expect(withMUNITKeys.warnings.allSatisfy { $0.message.contains("only the MUNIT trainer") })
        // The same text read for MUNIT misses MUNIT's keys.
        #expect(throws: MUNITConfigError.self) { try MUNITConfig.parse(yaml: Fixtures.unitTinyYAML, trainer: .munit) }
    }

    @Test func builtInUNITConfigLoadsWithoutWarningsAndBuilds() throws {
        let c = MUNITConfig.builtIn(.unit)
        #expect(c.trainer == .unit && c.warnings.isEmpty, "\(c.warnings)")
        #expect(c.usesCycleLoss)
        for kind in MUNITGraphKind.allCases where kind != .disStep && kind != .genStep {
            #expect(verify(try buildMUNITGraph(kind, config: c)).isEmpty)
        }
    }

    @Test func layoutHasVAEGensNamesAndNoBuffers() throws {
        let layout = MUNITLayout(config: try Fixtures.unitTinyConfig(["gen.activ": "prelu"]))
        let names = Set(layout.parameters.map(\.name))
        for name in ["gen_a.enc.model.0.conv.weight", "gen_a.enc.model.0.activation.weight", "gen_b.enc.model.3.model.1.model.1.conv.bias",
                     "gen_a.dec.model.0.model.1.model.0.conv.weight", "gen_b.dec.model.2.norm.gamma", "gen_b.dec.model.4.norm.beta",
                     "gen_a.dec.model.5.conv.weight", "dis_b.cnns.1.3.weight"] {
            #expect(names.contains(name), "\(name)")
        }
        #expect(!names.contains { $0.contains("enc_style") || $0.contains("mlp") || $0.contains("enc_content") })
        #expect(layout.buffers.isEmpty, "instance norm keeps no statistics: \(layout.buffers.map(\.name))")
    }

    /// The trainer's parameters for unit_tiny/config.yaml are exactly the recording's `param.*`.
    @Test func parametersMatchTheUNITRecordingExactly() throws {
        guard let url = SharedFolder.unitTinyReference else { return }
        let reference = try SafetensorsFile.read(contentsOf: url)
        #expect(reference.metadata["trainer"] == "UNIT")
        let expected = Dictionary(uniqueKeysWithValues: reference.tensors.filter { $0.key.hasPrefix("param.") }
            .map { (String($0.key.dropFirst(6)), $0.value.shape) })
        let ours = Dictionary(uniqueKeysWithValues: MUNITLayout(config: try Fixtures.unitTinyConfig()).parameters.map { ($0.name, $0.shape) })
        #expect(ours == expected)
    }

    @Test func genLossHasNVlabsNamesAndNoiseShapedLikeTheCode() throws {
        let c = try Fixtures.unitTinyConfig(["crop_image_width": "48"])
        let g = try buildMUNITGraph(.genLoss, config: c)
        let code = [2, 32, 8, 12]
        for name in ["n_a", "n_b", "n_b_recon", "n_a_recon"] {
            #expect(g.arguments.first { $0.name == name }.map { g.type(of: $0.value).shape } == code, "\(name)")
        }
        for name in ["gen_adv_a", "gen_adv_b", "gen_recon_x_a", "gen_recon_x_b", "gen_recon_kl_a", "gen_recon_kl_b", "gen_cyc_x_a",
                     "gen_cyc_x_b", "gen_recon_kl_cyc_aba", "gen_recon_kl_cyc_bab"] {
            #expect(g.output(named: "loss.\(name)").map { g.type(of: $0.value).shape } == [], "\(name)")
        }
        for name in ["h_a", "h_b", "h_a_recon", "h_b_recon"] {
            #expect(g.output(named: "act.\(name)").map { g.type(of: $0.value).shape } == code, "\(name)")
        }
        for name in ["x_a_recon", "x_ba", "x_aba", "x_bab"] { #expect(g.output(named: "act.\(name)") != nil, "\(name)") }
        #expect(g.lossOutput?.name == "loss.gen_total")
        #expect(Set(g.trainableParameters.map(\.name)) == Set(MUNITLayout(config: c).parameters.filter { $0.network == .genA || $0.network == .genB }.map(\.name)))

        let dis = try buildMUNITGraph(.disLoss, config: c)
        #expect(Set(dis.arguments.map(\.name).filter { !$0.contains(".") }) == ["x_a", "x_b", "n_a", "n_b"])
        #expect(dis.trainableParameters.allSatisfy { $0.name.hasPrefix("dis_") })
    }

    /// NVlabs' UNIT fails without the cycle loss; munitc drops its terms (reported as 0), and the noise of
    /// the re-encodings, which only the cycle decodes read.
    @Test func withoutTheCycleLossItsTermsAreZeroAndItsNoiseIsNoInput() throws {
        let c = try Fixtures.unitTinyConfig(["recon_x_cyc_w": "0", "batch_size": "1", "gen.dim": "2"])
        let g = try buildMUNITGraph(.genLoss, config: c)
        #expect(g.output(named: "act.x_aba") == nil && g.output(named: "act.h_a_recon") != nil)
        #expect(!g.arguments.contains { $0.name == "n_a_recon" || $0.name == "n_b_recon" })
        var rng = SplitMix64(seed: 3)
        var arguments = initialMUNITParameters(config: c, seed: 1)
        for a in g.arguments where arguments[a.name] == nil { arguments[a.name] = Tensor.random(g.type(of: a.value), in: -1...1, using: &rng) }
        let out = try Interpreter(graph: g).run(arguments)
        #expect(out["loss.gen_cyc_x_a"]?.scalars == [0] && out["loss.gen_cyc_x_b"]?.scalars == [0])
        #expect((out["loss.gen_recon_kl_cyc_aba"]?.scalars[0] ?? 0) > 0)
        // gen_total is the weighted sum of NVlabs' expression without the cycle terms (float32 losses).
        let v = { (name: String) in out["loss.\(name)"]!.scalars[0] }
        let total = v("gen_adv_a") + v("gen_adv_b") + 10 * (v("gen_recon_x_a") + v("gen_recon_x_b"))
            + 0.01 * (v("gen_recon_kl_a") + v("gen_recon_kl_b") + v("gen_recon_kl_cyc_aba") + v("gen_recon_kl_cyc_bab"))
        #expect(abs(v("gen_total") - total) <= 1e-5 * abs(total))
    }

    static let narrow: [String: String?] = ["gen.dim": "2", "gen.n_res": "1", "dis.dim": "2", "batch_size": "1"]
    static let variants: [[String: String?]] = [
        ["gen.activ": "prelu", "gen.pad_type": "replicate", "dis.norm": "in", "dis.gan_type": "nsgan"],
        ["gen.activ": "selu", "gen.pad_type": "zero", "gen.n_downsample": "1", "dis.norm": "ln", "dis.activ": "tanh",
         "dis.num_scales": "1", "dis.n_layer": "2", "recon_x_cyc_w": "0"],
        ["gen.activ": "lrelu", "dis.norm": "bn", "dis.activ": "prelu", "dis.pad_type": "replicate", "crop_image_width": "48"],
        ["gen.activ": "tanh", "gen.n_res": "0", "dis.num_scales": "3", "dis.n_layer": "2", "dis.activ": "selu",
         "dis.pad_type": "zero", "recon_kl_w": "0.5", "gan_w": "2"],
    ]

    @Test(arguments: 0..<variants.count, [MUNITGraphKind.disLoss, .genLoss])
    func lossGraphPassesGradcheck(variant: Int, kind: MUNITGraphKind) throws {
        let config = try Fixtures.unitTinyConfig(Self.narrow.merging(Self.variants[variant]) { _, new in new })
        try LossGradcheckTests.expectGradcheckPasses(kind, config: config, variant: variant)
    }
}
