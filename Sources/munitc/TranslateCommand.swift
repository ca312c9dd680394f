import ArgumentParser
import Foundation
import GraphIR
import ImageIO
import MUNITGraphs
import Training

/// `munitc translate --config C.yaml [--trainer MUNIT|UNIT] --checkpoint CKPT --input IMG [--style IMG] [--num-style N] [--b2a] [--seed S] -o DIR`
struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Translate an image with a trained MUNIT or UNIT (NVlabs' test.py).",
        discussion: """
            The input's content (encoded by the source domain's generator) is decoded by the target domain's \
            generator with N random styles, or with the style of --style (encoded by the target's style \
            encoder). The input is resized so its shorter side is new_size, as test.py does. Writes \
            DIR/input.png and DIR/output000.png, output001.png, … With --trainer UNIT (no style), the code \
            of the input is decoded by the target's decoder once: DIR/output.png.
            """)

    @Option(help: "The NVlabs MUNIT config the checkpoint was trained with.") var config: String
    @OptionGroup var trainer: TrainerOption
    @Option(help: "A generator checkpoint (gen_%08d.safetensors).") var checkpoint: String
    @Option(help: "The image to translate.") var input: String
    @Option(help: "An image of the target domain whose style to use.") var style: String?
    @Option(help: "How many random styles (ignored with --style; default 10).") var numStyle: Int?
    @Flag(help: "Translate from domain B to A (default A to B).") var b2a = false
    @Option(help: "The seed of the random styles.") var seed: UInt64 = 0
    @Option(name: [.short, .long], help: "The output folder.") var output: String
    @OptionGroup var execution: ExecutionOptions

    func validate() throws {
        if let numStyle, numStyle < 1 { throw ValidationError("--num-style must be at least 1, got \(numStyle)") }
        if !trainer.trainer.hasStyle, let option = style != nil ? "--style" : numStyle != nil ? "--num-style" : nil {
            throw ValidationError("\(option) chooses MUNIT styles, but the \(trainer.trainer.rawValue) trainer has no style "
                + "(its translation is the input's code decoded by the other domain's decoder); leave \(option) out")
        }
    }

    func run() throws {
        try reportingErrors(file: config) {
            let settings = try MUNITConfig.load(contentsOf: URL(fileURLWithPath: config), trainer: trainer.trainer)
            let parameters = try CheckpointStore.loadGenerators(URL(fileURLWithPath: checkpoint), config: settings)
            let (sourceDim, targetDim) = b2a ? (settings.inputDimB, settings.inputDimA) : (settings.inputDimA, settings.inputDimB)
            let (sourceSize, targetSize) = b2a ? (settings.newSize ?? settings.newSizeB, settings.newSize ?? settings.newSizeA)
                                               : (settings.newSize ?? settings.newSizeA, settings.newSize ?? settings.newSizeB)
            let image = try prepare(input, channels: sourceDim, newSize: sourceSize)
            let (h, w) = (image.shape[2], image.shape[3])
            let folder = URL(fileURLWithPath: output)
            do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw UserError("\(folder.path): cannot create the output folder (\(error.localizedDescription))")
            }
            let graph = try buildMUNITGraph(.translate, config: settings,
                                            options: MUNITGraphOptions(direction: b2a ? .b2a : .a2b, batchSize: 1, height: h, width: w))
            let runner = try execution.makeRunner(graph)
            try write(image, to: folder.appendingPathComponent("input.png"))
            let translate = { (style: Tensor?) throws -> Tensor in
                var inputs = [MUNITGraphNames.translateInput: image]
                inputs[MUNITGraphNames.translateStyle] = style
                for argument in graph.arguments where inputs[argument.name] == nil { inputs[argument.name] = parameters[argument.name] }
                return try runner.run(inputs)[MUNITGraphNames.translated]!
            }
            guard settings.trainer.hasStyle else {
                // test.py's UNIT branch: one translation, output.
                try write(translate(nil), to: folder.appendingPathComponent("output.png"))
                print("wrote the \(settings.trainer.rawValue) translation of \(input) to \(folder.path)")
                return
            }
            var styles: [Tensor]
            if let style {
                let styleImage = try prepare(style, channels: targetDim, newSize: targetSize)
                let graph = try buildMUNITStyleGraph(config: settings, network: b2a ? .genA : .genB, batchSize: 1,
                                                     height: styleImage.shape[2], width: styleImage.shape[3])
                var inputs = [MUNITGraphNames.translateInput: styleImage]
                for argument in graph.arguments where inputs[argument.name] == nil { inputs[argument.name] = parameters[argument.name] }
                styles = [try execution.makeRunner(graph).run(inputs)[MUNITSampleNames.style]!]
            } else {
                var rng = SplitMix64(seed: seed)
                styles = (0..<(numStyle ?? 10)).map { _ in DomainTensors.styles(count: 1, dim: settings.gen.styleDim, using: &rng) }
            }
            for (j, s) in styles.enumerated() {
                try write(translate(s), to: folder.appendingPathComponent(String(format: "output%03d.png", j)))
            }
            print("wrote \(styles.count) translation\(styles.count == 1 ? "" : "s") of \(input) to \(folder.path)")
        }
    }

    /// test.py's transform: shorter side to the domain's new size (when set), [−1, 1]; grayscale for
    /// 1-channel domains.
    func prepare(_ path: String, channels: Int, newSize: Int?) throws -> Tensor {
        var image: RGBImage
        do { image = try RGBImage.decode(contentsOf: URL(fileURLWithPath: path)) } catch { throw UserError("\(error)") }
        if let newSize { image = image.resized(shorterSide: newSize) }
        return DomainTensors.batch([image], channels: channels)
    }

    func write(_ t: Tensor, to url: URL) throws {
        do { try ImageTensor.image(DomainTensors.rgb(t)).writePNG(to: url) } catch { throw UserError("\(url.path): cannot write (\(error))") }
    }
}
