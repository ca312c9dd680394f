import Foundation
import GraphIR
import Testing
@testable import MUNITGraphs

@Suite struct LayoutTests {
    /// The trainer's parameters for tiny/config.yaml are exactly the recording's `param.*`, names and shapes.
    @Test(.enabled(if: Fixtures.tinyReference != nil, "shared/reference/tiny/reference.safetensors is absent"))
    func parametersMatchTheReferenceExactly() throws {
        let reference = try #require(Fixtures.tinyReference)
        let expected = Dictionary(uniqueKeysWithValues: reference.filter { $0.key.hasPrefix("param.") }
            .map { (String($0.key.dropFirst(6)), $0.value.shape) })
        let layout = MUNITLayout(config: try Fixtures.tinyConfig())
        let ours = Dictionary(uniqueKeysWithValues: layout.parameters.map { ($0.name, $0.shape) })
        #expect(ours.count == layout.parameters.count, "duplicate parameter names")
        #expect(Set(ours.keys).subtracting(expected.keys).isEmpty, "extra: \(Set(ours.keys).subtracting(expected.keys).sorted())")
        #expect(Set(expected.keys).subtracting(ours.keys).isEmpty, "missing: \(Set(expected.keys).subtracting(ours.keys).sorted())")
        for (name, shape) in expected { #expect(ours[name] == shape, "\(name): \(ours[name] ?? []) vs \(shape)") }
    }

    @Test func namesFollowTheStateDictForEveryOptionalLayer() throws {
        let c = try Fixtures.tinyConfig(["gen.activ": "prelu", "dis.norm": "bn", "dis.activ": "prelu", "gen.n_res": "1"])
        let layout = MUNITLayout(config: c)
        let names = Set(layout.parameters.map(\.name))
        for name in [
            "gen_a.enc_style.model.0.activation.weight", "gen_a.enc_style.model.6.weight",
            "gen_a.enc_content.model.3.model.0.model.1.conv.bias", "gen_a.dec.model.0.model.0.model.0.conv.weight",
            "gen_a.dec.model.0.model.0.model.0.activation.weight", "gen_a.dec.model.2.norm.gamma", "gen_a.dec.model.5.conv.weight",
            "gen_a.mlp.model.2.fc.weight", "gen_a.mlp.model.1.activation.weight", "dis_a.cnns.1.3.weight",
            "dis_b.cnns.0.1.norm.weight", "dis_b.cnns.0.1.norm.bias", "dis_b.cnns.0.2.activation.weight",
        ] { #expect(names.contains(name), "\(name)") }
        #expect(!names.contains("gen_a.dec.model.5.activation.weight"), "the decoder's last block is tanh")
        #expect(!names.contains("gen_a.mlp.model.2.activation.weight"), "the MLP's last layer has no activation")
        #expect(!names.contains("dis_a.cnns.0.0.norm.weight"), "the first discriminator block has no norm")
        #expect(layout.parameters.first { $0.name == "gen_a.enc_style.model.0.activation.weight" }?.shape == [1])
        // MLP output: 2·C per AdaIN layer, 2 AdaIN layers per decoder ResBlock.
        #expect(layout.parameters.first { $0.name == "gen_a.mlp.model.2.fc.weight" }?.shape == [2 * 2 * 32, 16])
    }

    @Test func buffersListAdaINAndBatchNormStatistics() throws {
        let c = try Fixtures.tinyConfig(["dis.norm": "bn"])
        let layout = MUNITLayout(config: c)
        let adain = layout.buffers.filter { $0.role == .adainRunningMean || $0.role == .adainRunningVar }
        #expect(adain.count == 2 * 2 * 2 * 2)  // generators × ResBlocks × convs × (mean, var)
        #expect(adain.contains { $0.name == "gen_b.dec.model.0.model.1.model.1.norm.running_var" && $0.shape == [32] })
        let bn = layout.buffers.filter(\.isUpdatedByTraining)
        #expect(bn.count == 2 * 2 * 2 * 2)  // discriminators × scales × normed blocks × (mean, var)
        #expect(bn.contains { $0.name == "dis_a.cnns.1.2.norm.running_mean" && $0.shape == [32] && $0.initialValue == 0 })
        #expect(bn.contains { $0.name == "dis_a.cnns.1.2.norm.running_var" && $0.initialValue == 1 })
        #expect(MUNITLayout(config: try Fixtures.tinyConfig()).buffers.allSatisfy { !$0.isUpdatedByTraining })
    }

    @Test func stateDictOrderIsGeneratorsThenDiscriminatorsNormBeforeConvolution() throws {
        let c = try Fixtures.tinyConfig(["dis.norm": "ln"])
        let names = MUNITLayout(config: c).parameters.map(\.name)
        let networks = names.map { String($0.prefix(5)) }
        #expect(networks.firstIndex(of: "gen_b")! > networks.lastIndex(of: "gen_a")!)
        #expect(networks.firstIndex(of: "dis_a")! > networks.lastIndex(of: "gen_b")!)
        // PyTorch registers a Conv2dBlock's norm before its convolution.
        #expect(names.firstIndex(of: "gen_a.dec.model.2.norm.gamma")! < names.firstIndex(of: "gen_a.dec.model.2.conv.weight")!)
        #expect(names.firstIndex(of: "gen_a.enc_style.model.0.conv.weight")! < names.firstIndex(of: "gen_a.enc_content.model.0.conv.weight")!)
    }

    @Test func withoutResBlocksTheMLPIsFrozenAndHasNoOutputLayer() throws {
        let c = try Fixtures.tinyConfig(["gen.n_res": "0"])
        let names = MUNITLayout(config: c).parameters.map(\.name)
        #expect(names.contains("gen_a.mlp.model.1.fc.weight"))
        #expect(!names.contains("gen_a.mlp.model.2.fc.weight"))
        let graph = try buildMUNITGraph(.genLoss, config: c)
        #expect(graph.argument(named: "gen_a.mlp.model.0.fc.weight")?.isTrainable == false)
        #expect(graph.argument(named: "gen_a.dec.model.2.conv.weight")?.isTrainable == true)
    }
}
