import Foundation
import GraphIR
import ImageIO
import MUNITGraphs
import Training

/// What `translate` runs for one direction: the generators' parameters, the image transform of test.py,
/// the style encoder and the translation graph compiled once per image size.
final class Translator {
    let settings: MUNITConfig
    let parameters: [String: Tensor]
    let b2a: Bool
    let execution: ExecutionOptions
    private var runners: [[Int]: (Graph, any StepRunner)] = [:]

    init(settings: MUNITConfig, parameters: [String: Tensor], b2a: Bool, execution: ExecutionOptions) {
        (self.settings, self.parameters, self.b2a, self.execution) = (settings, parameters, b2a, execution)
    }

    var sourceChannels: Int { b2a ? settings.inputDimB : settings.inputDimA }
    var targetChannels: Int { b2a ? settings.inputDimA : settings.inputDimB }
    var sourceSize: Int? { settings.newSize ?? (b2a ? settings.newSizeB : settings.newSizeA) }
    var targetSize: Int? { settings.newSize ?? (b2a ? settings.newSizeA : settings.newSizeB) }

    /// test.py's transform: shorter side to the domain's new size (when set), [−1, 1]; grayscale for
    /// 1-channel domains.
    static func prepare(_ path: String, channels: Int, newSize: Int?) throws -> Tensor {
        var image: RGBImage
        do {
            image = try RGBImage.decode(contentsOf: URL(fileURLWithPath: path))
            // Bounded: a tiny file may claim a huge image, or a resize target beyond any memory.
            let size = try image.resizedSize(newSize: newSize, name: path)
            if size.width != image.width || size.height != image.height { image = image.resized(width: size.width, height: size.height) }
        } catch { throw UserError("\(error)") }
        return DomainTensors.batch([image], channels: channels)
    }

    func source(_ path: String) throws -> Tensor { try Translator.prepare(path, channels: sourceChannels, newSize: sourceSize) }

    /// The target domain's style code of an image (its style encoder).
    func style(of path: String) throws -> Tensor {
        let image = try Translator.prepare(path, channels: targetChannels, newSize: targetSize)
        let graph = try buildMUNITStyleGraph(config: settings, network: b2a ? .genA : .genB, batchSize: 1,
                                             height: image.shape[2], width: image.shape[3])
        return try run(graph, execution.makeRunner(graph), [MUNITGraphNames.translateInput: image])[MUNITSampleNames.style]!
    }

    /// `count` standard-normal style codes from `rng`.
    func randomStyles(_ count: Int, using rng: inout SplitMix64) -> [Tensor] {
        (0..<count).map { _ in DomainTensors.styles(count: 1, dim: settings.gen.styleDim, using: &rng) }
    }

    /// `count` codes evenly between `from` and `to`, both included (one: `from`).
    static func interpolate(from: Tensor, to: Tensor, count: Int) -> [Tensor] {
        (0..<count).map { k in
            let t = count == 1 ? 0 : Double(k) / Double(count - 1)
            return Tensor(from.dtype, shape: from.shape, scalars: zip(from.scalars, to.scalars).map { $0 + t * ($1 - $0) })
        }
    }

    /// The input decoded with style `s` by the target domain's generator (UNIT, which has none: `s` nil).
    func translate(_ image: Tensor, style s: Tensor?) throws -> Tensor {
        let size = [image.shape[2], image.shape[3]]
        if runners[size] == nil {
            let graph = try buildMUNITGraph(.translate, config: settings,
                                            options: MUNITGraphOptions(direction: b2a ? .b2a : .a2b, batchSize: 1, height: size[0], width: size[1]))
            runners[size] = (graph, try execution.makeRunner(graph))
        }
        let (graph, runner) = runners[size]!
        var inputs = [MUNITGraphNames.translateInput: image]
        inputs[MUNITGraphNames.translateStyle] = s
        return try run(graph, runner, inputs)[MUNITGraphNames.translated]!
    }

    private func run(_ graph: Graph, _ runner: any StepRunner, _ given: [String: Tensor]) throws -> [String: Tensor] {
        var inputs = given
        for argument in graph.arguments where inputs[argument.name] == nil { inputs[argument.name] = parameters[argument.name] }
        return try runner.run(inputs)
    }

    static func write(_ t: Tensor, to url: URL) throws {
        // ImageError names the file.
        do { try ImageTensor.image(DomainTensors.rgb(t)).writePNG(to: url) } catch { throw UserError("\(error)") }
    }
}
