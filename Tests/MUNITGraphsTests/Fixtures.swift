import Foundation
import GraphIR
@testable import MUNITGraphs
import TestSupport

/// The tiny config and its recording (from the shared folder when present); tests that need the recording
/// skip when it is absent.
enum Fixtures {
    /// The tiny reference recording, read once (nil when absent).
    static let tinyReference: [String: Tensor]? = {
        guard let url = SharedFolder.tinyReference else { return nil }
        return try? SafetensorsFile.read(contentsOf: url).tensors
    }()

    /// The tiny config, from the shared file when present, else an identical inline copy.
    static func tinyConfig() throws -> MUNITConfig {
        if let url = SharedFolder.tinyConfig { return try MUNITConfig.load(contentsOf: url) }
        return try MUNITConfig.parse(yaml: tinyYAML, file: "tiny.yaml")
    }

    /// shared/reference/tiny/config.yaml, inline so config tests run without the shared folder.
    static let tinyYAML = """
        max_iter: 10
        batch_size: 2
        weight_decay: 0.0001
        beta1: 0.5
        beta2: 0.999
        init: kaiming
        lr: 0.0001
        lr_policy: step
        step_size: 100000
        gamma: 0.5
        gan_w: 1
        recon_x_w: 10
        recon_s_w: 1
        recon_c_w: 1
        recon_x_cyc_w: 0
        vgg_w: 0
        gen:
          dim: 8
          mlp_dim: 16
          style_dim: 4
          activ: relu
          n_downsample: 2
          n_res: 2
          pad_type: reflect
        dis:
          dim: 8
          norm: none
          activ: lrelu
          n_layer: 3
          gan_type: lsgan
          num_scales: 2
          pad_type: reflect
        input_dim_a: 3
        input_dim_b: 3
        new_size: 32
        crop_image_height: 32
        crop_image_width: 32
        display_size: 2

        """

    /// shared/reference/unit_tiny/config.yaml (NVlabs' UNIT_Trainer): the tiny MUNIT config with UNIT's loss
    /// weights instead of MUNIT's own keys, so tests run without the shared folder.
    static let unitTinyYAML = tinyYAML(replacing: [
        "recon_s_w": nil, "recon_c_w": nil, "gen.mlp_dim": nil, "gen.style_dim": nil,
        "recon_x_cyc_w": "10", "recon_kl_w": "0.01", "recon_kl_cyc_w": "0.01",
    ])

    /// A variant of the UNIT tiny config, parsed for the UNIT trainer.
    static func unitTinyConfig(_ replacements: [String: String?] = [:]) throws -> MUNITConfig {
        try MUNITConfig.parse(yaml: tinyYAML(replacing: replacements, in: unitTinyYAML), file: "unit.yaml", trainer: .unit)
    }

    /// The tiny YAML (or `base`) with `key: value` lines replaced (matched by the key at any indentation)
    /// or, for keys not present, appended at the top level.
    static func tinyYAML(replacing replacements: [String: String?], in base: String = tinyYAML) -> String {
        var lines = base.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var pending = replacements
        for (i, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard let colon = trimmed.firstIndex(of: ":") else { continue }
            let key = String(trimmed[..<colon])
            // Section-qualified keys ("gen.dim") match inside their section only.
            let section = lines[..<i].last { !$0.hasPrefix(" ") && $0.hasSuffix(":") }.map { String($0.dropLast()) }
            let qualified = line.hasPrefix(" ") ? "\(section ?? "").\(key)" : key
            guard let replacement = pending[qualified] else { continue }
            pending[qualified] = nil
            let indent = String(line.prefix { $0 == " " })
            lines[i] = replacement.map { "\(indent)\(key): \($0)" } ?? "#removed"
        }
        for (key, value) in pending.sorted(by: { $0.key < $1.key }) {
            if let value { lines.append("\(key): \(value)") }
        }
        return lines.joined(separator: "\n")
    }

    /// A variant of the tiny config, parsed.
    static func tinyConfig(_ replacements: [String: String?]) throws -> MUNITConfig {
        try MUNITConfig.parse(yaml: tinyYAML(replacing: replacements), file: "variant.yaml")
    }
}

/// The README's tensor rule: ‖ours − ref‖ / max(‖ref‖, 1e-3 · m).
func relativeDistance(_ ours: Tensor, _ reference: Tensor, scale m: Double) -> Double {
    var difference = 0.0, norm = 0.0
    for (a, r) in zip(ours.scalars, reference.scalars) {
        difference += (a - r) * (a - r)
        norm += r * r
    }
    return difference.squareRoot() / Swift.max(norm.squareRoot(), 1e-3 * m)
}

func l2Norm(_ t: Tensor) -> Double { t.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot() }

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// The arguments of a training graph from the reference: parameters, iteration-1 batches and the noise of
/// `step` ("dis" or "gen"). The gen step runs after the dis step of the same iteration, so it sees the
/// discriminators' updated parameters (`iter1.after.dis_*`; the gen step does not change them).
func referenceArguments(for graph: Graph, _ reference: [String: Tensor], step: String) throws -> [String: Tensor] {
    var arguments: [String: Tensor] = [:]
    for arg in graph.arguments {
        let isDiscriminator = arg.name.hasPrefix("dis_a.") || arg.name.hasPrefix("dis_b.")
        let parameter = step == "gen" && isDiscriminator ? "iter1.after.\(arg.name)" : "param.\(arg.name)"
        let candidates = [parameter, "iter1.\(arg.name)", "iter1.\(step).\(arg.name)"]
        guard let t = candidates.lazy.compactMap({ reference[$0] }).first else {
            throw MUNITGraphError("the reference has no value for '\(arg.name)'")
        }
        arguments[arg.name] = t
    }
    return arguments
}
