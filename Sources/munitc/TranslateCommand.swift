import ArgumentParser
import Foundation
import GraphIR
import ImageIO
import MUNITGraphs
import Training

/// `munitc translate --config C.yaml --checkpoint CKPT --input IMG [--style IMG] [--num-style N] [--b2a] [--seed S] -o DIR`
struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Translate an image with a trained MUNIT (NVlabs' test.py).",
        discussion: """
            The input's content (encoded by the source domain's generator) is decoded by the target domain's \
            generator with N random styles, or with the style of --style (encoded by the target's style \
            encoder). The input is resized so its shorter side is new_size, as test.py does. Writes \
            DIR/input.png and DIR/output000.png, output001.png, …
            """)

    @Option(help: "The NVlabs MUNIT config the checkpoint was trained with.") var config: String
    @Option(help: "A generator checkpoint (gen_%08d.safetensors).") var checkpoint: String
    @Option(help: "The image to translate.") var input: String
    @Option(help: "An image of the target domain whose style to use.") var style: String?
    @Option(help: "How many random styles (ignored with --style).") var numStyle = 10
    @Flag(help: "Translate from domain B to A (default A to B).") var b2a = false
    @Option(help: "The seed of the random styles.") var seed: UInt64 = 0
    @Option(name: [.short, .long], help: "The output folder.") var output: String
    @OptionGroup var execution: ExecutionOptions

    func validate() throws {
        if numStyle < 1 { throw ValidationError("--num-style must be at least 1, got \(numStyle)") }
    }

    func run() throws {
        try reportingErrors(file: config) {
            let settings = try MUNITConfig.load(contentsOf: URL(fileURLWithPath: config), for: .translation)
            let keys = b2a ? (source: "input_dim_b", target: "input_dim_a") : (source: "input_dim_a", target: "input_dim_b")
            let parameters = try CheckpointStore.loadGenerators(URL(fileURLWithPath: checkpoint), config: settings)
            let (sourceDim, targetDim) = b2a ? (settings.inputDimB, settings.inputDimA) : (settings.inputDimA, settings.inputDimB)
            let (sourceSize, targetSize) = b2a ? (settings.newSize ?? settings.newSizeB, settings.newSize ?? settings.newSizeA)
                                               : (settings.newSize ?? settings.newSizeA, settings.newSize ?? settings.newSizeB)
            try DomainTensors.checkImageChannels(sourceDim, key: keys.source, images: "--input images")
            try DomainTensors.checkImageChannels(targetDim, key: keys.target, images: "translated images (written as PNG)")
            let image = try prepare(input, channels: sourceDim, newSize: sourceSize)
            let (h, w) = (image.shape[2], image.shape[3])
            let folder = URL(fileURLWithPath: output)
            do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw UserError("\(folder.path): cannot create the output folder (\(fileErrorReason(error)))")
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
                styles = (0..<numStyle).map { _ in DomainTensors.styles(count: 1, dim: settings.gen.styleDim, using: &rng) }
            }
            let graph = try buildMUNITGraph(.translate, config: settings,
                                            options: MUNITGraphOptions(direction: b2a ? .b2a : .a2b, batchSize: 1, height: h, width: w))
            let runner = try execution.makeRunner(graph)
            try write(image, to: folder.appendingPathComponent("input.png"))
            for (j, s) in styles.enumerated() {
                var inputs = [MUNITGraphNames.translateInput: image, MUNITGraphNames.translateStyle: s]
                for argument in graph.arguments where inputs[argument.name] == nil { inputs[argument.name] = parameters[argument.name] }
                let out = try runner.run(inputs)[MUNITGraphNames.translated]!
                try write(out, to: folder.appendingPathComponent(String(format: "output%03d.png", j)))
            }
            print("wrote \(styles.count) translation\(styles.count == 1 ? "" : "s") of \(input) to \(folder.path)")
        }
    }

    /// test.py's transform: shorter side to the domain's new size (when set), [−1, 1]; grayscale for
    /// 1-channel domains.
    func prepare(_ path: String, channels: Int, newSize: Int?) throws -> Tensor {
        var image: RGBImage
        do {
            image = try RGBImage.decode(contentsOf: URL(fileURLWithPath: path))
            let size = try image.resizedSize(newSize: newSize, name: path)
            if size.width != image.width || size.height != image.height { image = image.resized(width: size.width, height: size.height) }
        } catch { throw UserError("\(error)") }
        return DomainTensors.batch([image], channels: channels)
    }

    func write(_ t: Tensor, to url: URL) throws {
        // ImageError names the file.
        do { try ImageTensor.image(DomainTensors.rgb(t)).writePNG(to: url) } catch { throw UserError("\(error)") }
    }
}
