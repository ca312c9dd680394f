import Foundation
import GraphIR
import Testing
@testable import MUNITGraphs

/// Shapes, names and trainability of the graphs for many configs (built and verified, not run).
@Suite struct BuilderShapeTests {
    static let variants: [[String: String?]] = [
        [:],
        ["gen.n_downsample": "1"], ["gen.n_downsample": "3"],
        ["gen.n_res": "0"], ["gen.n_res": "1"], ["gen.n_res": "3"],
        ["crop_image_height": "32", "crop_image_width": "48"],
        ["batch_size": "1"], ["batch_size": "3"],
        ["gen.activ": "lrelu", "dis.activ": "relu"], ["gen.activ": "prelu", "dis.activ": "prelu"],
        ["gen.activ": "selu", "dis.activ": "selu"], ["gen.activ": "tanh", "dis.activ": "tanh"],
        ["gen.activ": "none", "dis.activ": "none"],
        ["gen.pad_type": "replicate", "dis.pad_type": "zero"], ["gen.pad_type": "zero", "dis.pad_type": "replicate"],
        ["dis.norm": "in"], ["dis.norm": "ln"], ["dis.norm": "bn"],
        ["dis.num_scales": "1"], ["dis.num_scales": "3"], ["dis.n_layer": "1"], ["dis.n_layer": "4", "dis.num_scales": "1"],
        ["dis.gan_type": "nsgan"], ["recon_x_cyc_w": "10"],
        ["gen.style_dim": "8", "gen.mlp_dim": "32"], ["gen.style_dim": "1", "gen.mlp_dim": "3", "gen.dim": "5"],
        ["input_dim_a": "1", "input_dim_b": "3"],
    ]

    @Test(arguments: variants)
    func genLossShapes(_ replacements: [String: String?]) throws {
        let c = try Fixtures.tinyConfig(replacements)
        let g = try buildMUNITGraph(.genLoss, config: c)
        #expect(verify(g).isEmpty, "\(verify(g).map(\.message))")
        let (batch, h, w) = (c.batchSize, c.cropImageHeight, c.cropImageWidth)
        let factor = 1 << c.gen.nDownsample
        let content = [batch, c.gen.dim * factor, h / factor, w / factor]
        let style = [batch, c.gen.styleDim, 1, 1]
        let expected: [String: [Int]] = [
            "act.c_a": content, "act.c_b": content, "act.c_a_recon": content, "act.c_b_recon": content,
            "act.s_a_prime": style, "act.s_b_prime": style, "act.s_a_recon": style, "act.s_b_recon": style,
            "act.x_a_recon": [batch, c.inputDimA, h, w], "act.x_ba": [batch, c.inputDimA, h, w],
            "act.x_b_recon": [batch, c.inputDimB, h, w], "act.x_ab": [batch, c.inputDimB, h, w],
        ]
        for (name, shape) in expected { #expect(g.output(named: name).map { g.type(of: $0.value).shape } == shape, "\(name)") }
        for name in ["gen_adv_a", "gen_adv_b", "gen_recon_x_a", "gen_recon_x_b", "gen_recon_s_a", "gen_recon_s_b",
                     "gen_recon_c_a", "gen_recon_c_b", "gen_cycrecon_x_a", "gen_cycrecon_x_b"] {
            #expect(g.output(named: "loss.\(name)").map { g.type(of: $0.value).shape } == [], "loss.\(name)")
        }
        #expect(g.lossOutput?.name == "loss.gen_total")
        #expect((g.output(named: "act.x_aba") != nil) == c.usesCycleLoss)
        #expect((g.output(named: "act.x_bab") != nil) == c.usesCycleLoss)
        // Generators trainable (but a frozen MLP), discriminators not; every layout parameter is an argument.
        let layout = MUNITLayout(config: c)
        for p in layout.parameters {
            let arg = try #require(g.argument(named: p.name), "\(p.name) is not an argument")
            let isGenerator = p.network == .genA || p.network == .genB
            #expect(arg.isTrainable == (isGenerator && !(c.gen.nRes == 0 && p.name.contains(".mlp."))), "\(p.name)")
            #expect(g.type(of: arg.value).shape == p.shape)
        }
        #expect(g.parameters.count == layout.parameters.count + layout.buffers.filter(\.isUpdatedByTraining).count)
        let updates = g.outputs.filter { $0.name.hasPrefix("next.") }.count
        #expect(updates == layout.buffers.filter(\.isUpdatedByTraining).count)
    }

    @Test(arguments: variants)
    func disLossAndTranslateShapes(_ replacements: [String: String?]) throws {
        let c = try Fixtures.tinyConfig(replacements)
        let dis = try buildMUNITGraph(.disLoss, config: c)
        #expect(verify(dis).isEmpty, "\(verify(dis).map(\.message))")
        #expect(dis.outputs.filter { $0.name.hasPrefix("loss.") }.map(\.name) == ["loss.dis_a", "loss.dis_b", "loss.dis_total"])
        #expect(dis.lossOutput?.name == "loss.dis_total")
        for arg in dis.parameters where !arg.name.contains(".running_") {
            #expect(arg.isTrainable == arg.name.hasPrefix("dis_"), "\(arg.name)")
        }
        #expect(dis.nodes.filter { $0.op.name == "stop_gradient" }.count >= 2)
        for direction in TranslationDirection.allCases {
            let t = try buildMUNITGraph(.translate, config: c, options: MUNITGraphOptions(direction: direction))
            #expect(verify(t).isEmpty)
            let out = direction == .a2b ? c.inputDimB : c.inputDimA
            #expect(t.output(named: "x_translated").map { t.type(of: $0.value).shape }
                    == [c.batchSize, out, c.cropImageHeight, c.cropImageWidth])
            #expect(t.parameters.allSatisfy { !$0.isTrainable })
            let source = direction == .a2b ? "gen_a." : "gen_b.", target = direction == .a2b ? "gen_b." : "gen_a."
            #expect(t.parameters.allSatisfy { $0.name.hasPrefix("\(source)enc_content.") || $0.name.hasPrefix(target) })
        }
    }

    @Test func translateTakesOtherSizes() throws {
        let c = try Fixtures.tinyConfig()
        let t = try buildMUNITGraph(.translate, config: c, options: MUNITGraphOptions(direction: .b2a, batchSize: 1, height: 64, width: 48))
        #expect(t.argument(named: "x").map { t.type(of: $0.value).shape } == [1, 3, 64, 48])
        #expect(t.output(named: "c").map { t.type(of: $0.value).shape } == [1, 32, 16, 12])
    }

    @Test func aGeneratorAppliedSeveralTimesSharesItsParameters() throws {
        let g = try buildMUNITGraph(.genLoss, config: try Fixtures.tinyConfig(["recon_x_cyc_w": "1"]))
        #expect(g.arguments.filter { $0.name == "gen_a.enc_content.model.0.conv.weight" }.count == 1)
        let weight = try #require(g.argument(named: "gen_a.enc_content.model.0.conv.weight")).value
        // enc_a runs on x_a and on x_ba.
        #expect(g.nodes.filter { $0.op.name == "conv2d" && $0.operands.contains(weight) }.count == 2)
        // dec_a runs for x_a_recon, x_ba and x_aba.
        let decoderWeight = try #require(g.argument(named: "gen_a.dec.model.5.conv.weight")).value
        #expect(g.nodes.filter { $0.op.name == "conv2d" && $0.operands.contains(decoderWeight) }.count == 3)
        #expect(Set(g.arguments.map(\.name)).count == g.arguments.count)
    }

    @Test func imagesTooSmallForTheStyleEncoderNameTheLayer() throws {
        // The loader refuses such a crop naming its key (ConfigBoundsTests); sizes given to the builder
        // directly are refused naming the layer.
        #expect(throws: MUNITConfigError.self) {
            try Fixtures.tinyConfig(["crop_image_height": "8", "crop_image_width": "8", "gen.n_downsample": "1"])
        }
        let c = try Fixtures.tinyConfig(["gen.n_downsample": "1"])
        #expect { try buildMUNITGraph(.genLoss, config: c, options: MUNITGraphOptions(batchSize: 2, height: 8, width: 8)) } throws: { error in
            "\(error)".hasPrefix("gen_a.enc_style.model.4: ")
        }
    }
}
