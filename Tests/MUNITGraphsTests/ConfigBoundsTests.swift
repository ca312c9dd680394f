import Foundation
import GraphIR
import Testing
@testable import MUNITGraphs

/// Issue 17: configs the networks cannot be, or that no memory holds, are refused naming the key, quickly
/// and before anything is built; YAML nested too deep is refused before the parser sees it.
@Suite struct ConfigBoundsTests {
    func error(_ replacements: [String: String?]) -> MUNITConfigError? {
        error(yaml: Fixtures.tinyYAML(replacing: replacements))
    }

    func error(yaml: String, for purpose: MUNITConfig.Purpose = .training) -> MUNITConfigError? {
        do {
            _ = try MUNITConfig.parse(yaml: yaml, file: "bad.yaml", for: purpose)
            return nil
        } catch {
            return error as? MUNITConfigError
        }
    }

    @Test func layerCountsThatEmptyAFeatureMapNameTheirKey() throws {
        // The tiny config's crop is 32: n_downsample 64 once divided by zero.
        let down = try #require(error(["gen.n_downsample": "64"]))
        #expect(down.key == "gen.n_downsample")
        #expect(down.line == 22)
        #expect(down.message.contains("at most 4"))
        #expect(error(["gen.n_downsample": "4"]) == nil)
        #expect(error(["gen.n_downsample": "5"])?.key == "gen.n_downsample")
        for value in ["1000000", "9223372036854775807"] {
            #expect(error(["dis.n_layer": value])?.key == "dis.n_layer")
        }
        for value in ["2147483648", "1000000"] {
            let e = try #require(error(["dis.num_scales": value]))
            #expect(e.key == "dis.num_scales")
            #expect(e.message.contains("at scale"))
        }
        // Scale 2 of a 32-pixel crop sees 8 pixels: three halvings leave 1.
        #expect(error(["dis.num_scales": "3"]) == nil)
        #expect(error(["crop_image_height": "8", "crop_image_width": "8", "new_size": "8", "gen.n_downsample": "1"])?.key == "crop_image_height")
    }

    @Test func dimensionsBeyondAnyMachineNameTheirKeyWithTheNumbers() throws {
        for (key, value) in [("dis.dim", "9223372036854775807"), ("gen.dim", "2147483648"), ("gen.mlp_dim", "4611686018427387904")] {
            let e = try #require(error([key: value]), "\(key): \(value) was accepted")
            #expect(e.key == key)
            #expect(e.message.hasPrefix("\(value) makes training need about"))
            #expect(e.message.contains("parameters"))
            #expect(e.line != nil)
        }
    }

    @Test func theMachineBudgetNamesTheLargestContributor() throws {
        let budget = MemoryBudget(bytes: 16 * 0x1p30, origin: "the test's limit")
        for (key, value) in [("gen.n_res", "1000000"), ("gen.dim", "30000"), ("new_size", "100000"), ("batch_size", "100000")] {
            let config = try Fixtures.tinyConfig([key: value])
            do {
                try config.checkTrainingMemory(against: budget)
                Issue.record("\(key): \(value) fits 16 GiB")
            } catch let e as MUNITConfigError {
                #expect(e.key == key)
                #expect(e.message.hasSuffix("the test's limit is 16 GiB"), "\(e.message)")
            }
        }
        try Fixtures.tinyConfig([:]).checkTrainingMemory(against: budget)
    }

    @Test func theParameterEstimateIsExact() throws {
        for replacements: [String: String?] in [
            [:], ["gen.n_res": "0"], ["dis.norm": "bn", "dis.num_scales": "1"], ["dis.norm": "ln", "input_dim_b": "1"],
            ["gen.n_downsample": "3", "gen.mlp_dim": "7", "gen.style_dim": "3"], ["gen.n_downsample": "0"],
        ] {
            let config = try Fixtures.tinyConfig(replacements)
            let estimate = MUNITMemoryEstimate(training: config)
            #expect(estimate.parameterCount == Double(MUNITLayout(config: config).parameterCount), "\(replacements)")
        }
    }

    @Test func nvlabsConfigsFitAnOrdinaryMachine() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs/edges2handbags_folder.yaml")
        let estimate = MUNITMemoryEstimate(training: try MUNITConfig.load(contentsOf: url))
        // Its steps peak at 2.57 GB (README); the estimate may be above, not far above, and never far below.
        #expect(estimate.total > 2e9 && estimate.total < 4e9, "\(estimate)")
        var perceptual = try MUNITConfig.load(contentsOf: url)
        perceptual.vggW = 1
        let vgg = MUNITMemoryEstimate(training: perceptual)
        #expect(vgg.parameterCount == estimate.parameterCount && vgg.parameters > estimate.parameters + 4 * 14e6)
        #expect(vgg.activations > estimate.activations)
        let builtIn = MUNITMemoryEstimate(training: try MUNITConfig.parse(yaml: MUNITConfig.defaultYAML()))
        #expect(builtIn.total < 2e9, "\(builtIn)")
    }

    @Test func deepNestingIsRefusedBeforeParsing() throws {
        let limit = MUNITConfigBounds.maximumNesting
        let deep = [
            "a: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000),
            "a: " + String(repeating: "- ", count: 5000) + "x",
            "a:\n" + (0..<5000).map { String(repeating: " ", count: $0 + 1) + "-\n" }.joined(),
            "a: {" + String(repeating: "b: {", count: 5000) + String(repeating: "}", count: 5001),
        ]
        for yaml in deep {
            let start = Date()
            let e = try #require(error(yaml: yaml))
            #expect(e.message.hasPrefix("nested more than \(limit) levels deep"))
            #expect(e.line != nil)
            #expect(Date().timeIntervalSince(start) < 5)
        }
        // Brackets inside quotes, comments and block scalars are text, not nesting.
        let text = String(repeating: "[", count: 100)
        let quoted = Fixtures.tinyYAML + "\nnote: '\(text)'\nother: \"\(text)\" # \(text)\nblock: |\n  \(text)\n"
        #expect(error(yaml: quoted) == nil)
    }

    @Test func translationNeedsOnlyTheGeneratorKeys() throws {
        var lines: [String] = []
        var inDis = false
        for line in Fixtures.tinyYAML.split(separator: "\n").map(String.init) {
            if !line.hasPrefix(" ") { inDis = line == "dis:" }
            let key = line.split(separator: ":").first.map(String.init) ?? ""
            if inDis || ["max_iter", "batch_size", "lr", "beta1", "weight_decay", "gan_w", "recon_x_w", "crop_image_height"].contains(key) { continue }
            lines.append(line)
        }
        let yaml = lines.joined(separator: "\n")
        #expect(error(yaml: yaml)?.key == "batch_size")
        let config = try MUNITConfig.parse(yaml: yaml, for: .translation)
        #expect(config.gen.dim == 8 && config.maxIter == MUNITConfig().maxIter && config.dis == MUNITConfig().dis)
        #expect(error(yaml: Fixtures.tinyYAML(replacing: ["gen.dim": nil]), for: .translation)?.key == "gen.dim")
        // Without the training geometry check, absurd counts still end quickly in a named key.
        for (key, value) in [("dis.n_layer", "9223372036854775807"), ("gen.n_downsample", "1000000000"), ("dis.num_scales", "9223372036854775807")] {
            #expect(error(yaml: Fixtures.tinyYAML(replacing: [key: value]), for: .translation)?.key == key)
        }
    }
}
