import Foundation
import Testing
@testable import MUNITGraphs

@Suite struct ConfigErrorTests {
    /// The error a variant of the tiny config raises.
    func error(_ replacements: [String: String?]) -> MUNITConfigError? {
        error(yaml: Fixtures.tinyYAML(replacing: replacements))
    }

    func error(yaml: String) -> MUNITConfigError? {
        do {
            _ = try MUNITConfig.parse(yaml: yaml, file: "bad.yaml")
            return nil
        } catch let error as MUNITConfigError {
            return error
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }

    @Test func unknownValueNamesKeyValueChoicesAndFile() throws {
        let e = try #require(error(["gen.activ": "swish"]))
        #expect(e.key == "gen.activ")
        #expect(e.formatted.hasPrefix("bad.yaml:21:10: error: key 'gen.activ': 'swish' is not one of "))
        #expect(e.description == "key 'gen.activ': 'swish' is not one of relu, lrelu, prelu, selu, tanh, none (line 21, column 10)")
        for (key, value, choices) in [
            ("gen.pad_type", "mirror", "reflect, replicate, zero"), ("dis.pad_type", "circular", "reflect, replicate, zero"),
            ("dis.norm", "sn", "none, in, ln, bn"), ("dis.activ", "gelu", "relu, lrelu, prelu, selu, tanh, none"),
            ("dis.gan_type", "wgan", "lsgan, nsgan"), ("init", "default", "kaiming, gaussian, xavier, orthogonal"),
            ("lr_policy", "cosine", "step, constant"),
        ] {
            let e = try #require(error([key: value]), "\(key): \(value) was accepted")
            #expect(e.key == key)
            #expect(e.message == "'\(value)' is not one of \(choices)")
        }
    }

    @Test func missingKeysAreNamed() throws {
        #expect(error(["gen.dim": nil])?.description.hasPrefix("key 'gen.dim': missing; MUNIT needs it") == true)
        #expect(error(["batch_size": nil])?.description == "key 'batch_size': missing; MUNIT needs it")
        #expect(error(["recon_x_cyc_w": nil])?.key == "recon_x_cyc_w")
        #expect(error(["dis.num_scales": nil])?.key == "dis.num_scales")
        #expect(error(["step_size": nil])?.key == "step_size")  // lr_policy is step
        #expect(error(["crop_image_width": nil])?.key == "crop_image_width")
    }

    @Test func wrongTypesAreNamed() throws {
        #expect(error(["gen.dim": "eight"])?.message == "expected an integer, got 'eight'")
        #expect(error(["gen.dim": "8.5"])?.message == "expected an integer, got '8.5'")
        #expect(error(["gen.dim": "\"8\""])?.message == "expected an integer, got the quoted string \"8\"")
        #expect(error(["lr": "fast"])?.message == "expected a number, got 'fast'")
        #expect(error(["gan_w": ""])?.message == "expected a number, got nothing (null)")
        #expect(error(["gen.activ": "[relu]"])?.message == "expected one of relu, lrelu, prelu, selu, tanh, none, got a list")
        let notMapping = error(yaml: Fixtures.tinyYAML.replacingOccurrences(of: "gen:\n", with: "gen: 5\nunused:\n"))
        #expect(notMapping?.key == "gen")
        #expect(notMapping?.message == "expected a mapping of keys to values, got '5'")
    }

    @Test func outOfRangeValuesAndInconsistentKeys() throws {
        #expect(error(["batch_size": "0"])?.message == "must be at least 1, got 0")
        #expect(error(["recon_x_w": "-1"])?.key == "recon_x_w")
        #expect(error(["beta2": "1"])?.key == "beta2")
        let crop = try #require(error(["crop_image_width": "34"]))
        #expect(crop.key == "crop_image_width")
        #expect(crop.message.contains("multiple of 2^gen.n_downsample = 4"))
        #expect(error(["vgg_w": "1", "input_dim_b": "1"])?.key == "input_dim_b")
    }

    @Test func fileLevelProblems() throws {
        #expect(error(yaml: "")?.message == "the config is empty")
        #expect(error(yaml: "batch_size: [1")?.message.hasPrefix("not valid YAML") == true)
        #expect(error(yaml: "- 1\n- 2\n")?.message.hasPrefix("expected a mapping") == true)
        let duplicate = try #require(error(yaml: Fixtures.tinyYAML + "lr: 0.1\n"))
        #expect(duplicate.key == "lr")
        #expect(duplicate.message.hasPrefix("appears twice"))
        #expect(throws: MUNITConfigError.self) {
            try MUNITConfig.load(contentsOf: URL(fileURLWithPath: "/nonexistent/munit.yaml"))
        }
    }

    @Test func unknownKeysWarnWithPositionAndKnownUnusedKeysDoNot() throws {
        var yaml = Fixtures.tinyYAML(replacing: ["num_workers": "4", "data_root": "./data", "foo": "1"])
        yaml = yaml.replacingOccurrences(of: "  pad_type: reflect\ndis:", with: "  pad_type: reflect\n  bar: 2\ndis:")
        let c = try MUNITConfig.parse(yaml: yaml, file: "warn.yaml")
        #expect(c.warnings.map(\.key).sorted() == ["foo", "gen.bar"])
        let bar = try #require(c.warnings.first { $0.key == "gen.bar" })
        #expect(bar.formatted == "warn.yaml:25:3: warning: key 'gen.bar': unknown key, ignored")
        #expect(bar.description == "key 'gen.bar': unknown key, ignored (line 25, column 3)")
    }
}
