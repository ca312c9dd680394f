import ArgumentParser
import Foundation
import GraphIR
import ImageIO
import MUNITGraphs
import Training

/// `munitc translate --config C.yaml [--trainer MUNIT|UNIT] --checkpoint CKPT --input IMG|DIR [--style IMG]
/// [--num-style N] [--interpolate K] [--b2a] [--ema] [--seed S] -o DIR`
struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Translate an image or a folder with a trained MUNIT or UNIT (NVlabs' test.py and test_batch.py).",
        discussion: """
            The input's content (encoded by the source domain's generator) is decoded by the target domain's \
            generator with N random styles, or with the style of --style (encoded by the target's style \
            encoder), or with --interpolate K codes evenly between two random ones (or a random one and \
            --style's). The input is resized so its shorter side is new_size, as test.py does. For an image, \
            writes DIR/input.png and DIR/output000.png, output001.png, …; for a folder (test_batch.py), \
            DIR/input_<name>.png and DIR/output_<name>_000.png, … for each image, and DIR/index.html showing \
            them; an image that cannot be read is reported and skipped, and the exit status is then 1. \
            The checkpoint is a munitc gen_%08d.safetensors or NVlabs' gen_%08d.pt. With --trainer UNIT (no \
            style), the input's code is decoded by the target's decoder once: DIR/output.png (for a folder, \
            DIR/output_<name>_000.png).
            """)

    @Option(help: "The NVlabs MUNIT config the checkpoint was trained with.") var config: String
    @OptionGroup var trainer: TrainerOption
    @Option(help: "A generator checkpoint (gen_%08d.safetensors, or NVlabs' gen_%08d.pt).") var checkpoint: String
    @Option(help: "The image to translate, or a folder of images.") var input: String
    @Option(help: "An image of the target domain whose style to use.") var style: String?
    @Option(help: "How many random styles (ignored with --style; default 10).") var numStyle: Int?
    @Option(help: "Write K outputs with style codes evenly between two codes (random, or random and --style's).") var interpolate: Int?
    @Flag(help: "Translate from domain B to A (default A to B).") var b2a = false
    @Flag(help: "Use the generators' moving average: gen_ema_%08d beside the checkpoint.") var ema = false
    @Option(help: "The seed of the random styles.") var seed: UInt64 = 0
    @Option(name: [.short, .long], help: "The output folder.") var output: String
    @OptionGroup var execution: ExecutionOptions

    func validate() throws {
        if let numStyle, numStyle < 1 { throw ValidationError("--num-style must be at least 1, got \(numStyle)") }
        if let interpolate, interpolate < 2 { throw ValidationError("--interpolate needs at least 2 outputs, got \(interpolate)") }
        let styleOption = style != nil ? "--style" : numStyle != nil ? "--num-style" : interpolate != nil ? "--interpolate" : nil
        if !trainer.trainer.hasStyle, let option = styleOption {
            throw ValidationError("\(option) chooses MUNIT styles, but the \(trainer.trainer.rawValue) trainer has no style "
                + "(its translation is the input's code decoded by the other domain's decoder); leave \(option) out")
        }
    }

    /// The generator file: the checkpoint, or with --ema its `gen_ema_` sibling.
    var generatorFile: URL {
        let url = URL(fileURLWithPath: checkpoint)
        let name = url.lastPathComponent
        guard ema, name.hasPrefix("gen_"), !name.hasPrefix("gen_ema_") else { return url }
        return url.deletingLastPathComponent().appendingPathComponent("gen_ema_" + name.dropFirst(4))
    }

    func run() throws {
        try reportingErrors(file: config) {
            let settings = try MUNITConfig.load(contentsOf: URL(fileURLWithPath: config), for: .translation, trainer: trainer.trainer)
            let file = generatorFile
            if ema && !FileManager.default.fileExists(atPath: file.path) {
                throw UserError("\(file.path): --ema needs the moving average's checkpoint (train with ema_beta in the config)")
            }
            let translator = Translator(settings: settings, parameters: try CheckpointStore.loadGenerators(file, config: settings),
                                        b2a: b2a, execution: execution)
            let keys = b2a ? (source: "input_dim_b", target: "input_dim_a") : (source: "input_dim_a", target: "input_dim_b")
            try DomainTensors.checkImageChannels(translator.sourceChannels, key: keys.source, images: "--input images")
            try DomainTensors.checkImageChannels(translator.targetChannels, key: keys.target, images: "translated images (written as PNG)")
            let folder = URL(fileURLWithPath: output)
            do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw UserError("\(folder.path): cannot create the output folder (\(fileErrorReason(error)))")
            }
            let fixedStyle = try style.map(translator.style(of:))
            var rng = SplitMix64(seed: seed)
            let styles = { (rng: inout SplitMix64) -> [Tensor?] in
                // UNIT has no style: one translation per input.
                guard settings.trainer.hasStyle else { return [nil] }
                if let interpolate {
                    let from = translator.randomStyles(1, using: &rng)[0]
                    return Translator.interpolate(from: from, to: fixedStyle ?? translator.randomStyles(1, using: &rng)[0], count: interpolate)
                }
                return fixedStyle.map { [$0] } ?? translator.randomStyles(numStyle ?? 10, using: &rng)
            }
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: input, isDirectory: &isFolder), isFolder.boolValue {
                try FolderTranslation(translator: translator, input: URL(fileURLWithPath: input), output: folder).run { styles(&rng) }
                return
            }
            let image = try translator.source(input)
            try Translator.write(image, to: folder.appendingPathComponent("input.png"))
            let codes = styles(&rng)
            guard settings.trainer.hasStyle else {
                // test.py's UNIT branch: one translation, output.png.
                try Translator.write(try translator.translate(image, style: nil), to: folder.appendingPathComponent("output.png"))
                print("wrote the \(settings.trainer.rawValue) translation of \(input) to \(folder.path)")
                return
            }
            for (j, s) in codes.enumerated() {
                try Translator.write(try translator.translate(image, style: s), to: folder.appendingPathComponent(String(format: "output%03d.png", j)))
            }
            print("wrote \(codes.count) translation\(codes.count == 1 ? "" : "s") of \(input) to \(folder.path)")
        }
    }
}
