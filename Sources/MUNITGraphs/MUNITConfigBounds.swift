import Foundation
import GraphIR

/// What a MUNIT config may ask for: feature maps of at least one pixel at every layer, and memory within a
/// limit. Both are checked from the config alone, in `Double` arithmetic, before any graph or tensor exists,
/// and a refusal names the key to change.
public enum MUNITConfigBounds {
    /// The most bytes any config may need to train, whatever the machine: far beyond any machine, and it
    /// keeps every tensor's size and every shape product in the graph builders far from `Int` overflow.
    /// The machine's own limit (`MemoryBudget`) is checked when training starts (`Trainer`).
    public static let maximumBytes = Double(1 << 48)

    /// The deepest a config's YAML may nest (MUNIT's nest 2 deep); deeper text is refused before parsing.
    public static let maximumNesting = 64

    /// Allowance per layer of every step graph for its nodes, generated code and compiler state.
    static let bytesPerLayer = Double(1 << 18)

    /// Float32 tensors a trained layer's output element costs in the largest step (its forward values and
    /// their gradient, less what the memory plan reuses). Calibrated on NVlabs' 256×256 config, whose steps
    /// peak at 2.57 GB (README's table), estimated at 2.8 GB.
    static let tensorsPerLayerOutput = 2.0

    /// The key that makes a layer's feature map smaller than one pixel (or smaller than its reflection
    /// padding, which PyTorch refuses), and why; nil when every map of the training crop is valid.
    public static func geometryProblem(_ c: MUNITConfig) -> (key: String, message: String)? {
        for (cropKey, crop) in [("crop_image_height", c.cropImageHeight), ("crop_image_width", c.cropImageWidth)] {
            if let problem = geometryProblem(c, crop: crop, cropKey: cropKey) { return problem }
        }
        return nil
    }

    private static func geometryProblem(_ c: MUNITConfig, crop: Int, cropKey: String) -> (key: String, message: String)? {
        let genReflect = c.gen.padType == .reflect, disReflect = c.dis.padType == .reflect
        // Output size of a convolution, nil when it would be empty or its reflection padding too wide.
        func conv(_ n: Int, kernel: Int, stride: Int, pad: Int, reflect: Bool) -> Int? {
            guard !reflect || pad < n, n + 2 * pad >= kernel else { return nil }
            return (n + 2 * pad - kernel) / stride + 1
        }
        // The style encoder: a 7×7 convolution and always four 4×4 stride-2 ones.
        var n: Int? = conv(crop, kernel: 7, stride: 1, pad: 3, reflect: genReflect)
        for _ in 0..<4 { n = n.flatMap { conv($0, kernel: 4, stride: 2, pad: 1, reflect: genReflect) } }
        if n == nil {
            return (cropKey, "\(crop) is too small: the style encoder halves the image 4 times, which needs at least 16 pixels")
        }
        // The content encoder halves the crop n_downsample times; the decoder doubles it back.
        let most = Int.bitWidth - 1 - crop.leadingZeroBitCount  // the largest k with 2^k ≤ crop
        guard c.gen.nDownsample <= most, crop >> c.gen.nDownsample >= (genReflect && c.gen.nDownsample > 0 ? 2 : 1) else {
            return ("gen.n_downsample", "\(c.gen.nDownsample) halves \(cropKey) \(crop) below "
                + "\(genReflect ? "the 2 pixels its reflection-padded layers need" : "one pixel"); at most \(max(most - (genReflect ? 1 : 0), 0))")
        }
        // The discriminator: at scale s the crop average-pooled s times, then n_layer 4×4 stride-2 convolutions.
        var scaleSize = crop
        for scale in 0..<c.dis.numScales {
            if scale > 0 { scaleSize = (scaleSize - 1) / 2 + 1 }
            var m: Int? = scaleSize
            // Stops at the first empty map, so a huge n_layer costs no more than a valid one.
            for _ in 0..<c.dis.nLayer {
                m = m.flatMap { conv($0, kernel: 4, stride: 2, pad: 1, reflect: disReflect) }
                if m == nil { break }
            }
            if m == nil {
                let key = scale == 0 ? "dis.n_layer" : "dis.num_scales"
                return (key, "\(scale == 0 ? c.dis.nLayer : c.dis.numScales) is too many: at scale \(scale) the discriminator "
                    + "sees \(scaleSize) pixels (\(cropKey) \(crop)), and halving that \(c.dis.nLayer) times (dis.n_layer) "
                    + "leaves less than one pixel")
            }
        }
        return nil
    }
}

/// An estimate of the memory training a config needs, from the config alone (no graph is built), in bytes.
public struct MUNITMemoryEstimate: Sendable, CustomStringConvertible {
    /// The most layers of one kind the estimate walks.
    static let countedLayers = 64

    /// The four networks' parameters, and VGG16's with the perceptual loss (float32).
    public var parameters: Double
    /// Gradients and Adam's two moments.
    public var optimizerState: Double
    /// Decoded and resized images, batches and sample grids.
    public var images: Double
    /// The largest step's activations and their gradients.
    public var activations: Double
    /// Graph nodes, generated code and compiler state.
    public var compiling: Double
    /// The learned values of the four networks (not bytes; VGG16's fixed weights are not counted).
    public var parameterCount: Double

    public var total: Double { parameters + optimizerState + images + activations + compiling }

    /// The estimate for training `c` (valid geometry assumed: see `MUNITConfigBounds.geometryProblem`).
    public init(training c: MUNITConfig) {
        let g = c.gen, d = c.dis
        // Loops stop after `countedLayers`: 2^64 times a width is beyond any limit already, and the estimate
        // must stay quick for any value (translation skips the geometry check that bounds them).
        let (downsamples, layers, scales) = (min(g.nDownsample, Self.countedLayers), min(d.nLayer, Self.countedLayers),
                                             min(d.numScales, Self.countedLayers))
        let (dim, nd, nRes) = (Double(g.dim), Double(g.nDownsample), Double(g.nRes))
        let contentDim = dim * pow(2, nd)
        let area = Double(c.cropImageHeight) * Double(c.cropImageWidth)
        func conv(_ input: Double, _ output: Double, _ kernel: Double) -> Double { kernel * kernel * input * output + output }

        // Parameters, as the networks declare them (conv weight and bias, LayerNorm γ and β).
        func generator(_ channels: Double) -> Double {
            var style = conv(channels, dim, 7) + conv(dim, 2 * dim, 4) + conv(2 * dim, 4 * dim, 4)
            style += 2 * conv(4 * dim, 4 * dim, 4) + conv(4 * dim, Double(g.styleDim), 1)
            var content = conv(channels, dim, 7) + nRes * 2 * conv(contentDim, contentDim, 3)
            var decoder = nRes * 2 * conv(contentDim, contentDim, 3)
            var width = dim
            for _ in 0..<downsamples {
                content += conv(width, 2 * width, 4)
                width *= 2
            }
            for _ in 0..<downsamples {
                decoder += conv(width, width / 2, 5) + width  // + LayerNorm γ, β of width/2 channels
                width /= 2
            }
            decoder += conv(width, channels, 7)
            let (m, adain) = (Double(g.mlpDim), nRes * 4 * contentDim)
            return style + content + decoder + conv(Double(g.styleDim), m, 1) + conv(m, m, 1) + conv(m, adain, 1)
        }
        func discriminator(_ channels: Double) -> Double {
            var (cnn, width) = (conv(channels, Double(d.dim), 4), Double(d.dim))
            for _ in 1..<max(layers, 1) {
                cnn += conv(width, 2 * width, 4) + (d.norm == .none || d.norm == .instance ? 0 : 4 * width)
                width *= 2
            }
            return Double(d.numScales) * (cnn + conv(width, 1, 1))
        }
        let (a, b) = (Double(c.inputDimA), Double(c.inputDimB))
        parameterCount = generator(a) + generator(b) + discriminator(a) + discriminator(b)

        // Activation elements per image of one forward pass of each network.
        var styleMaps = dim * area, contentMaps = dim * area, decoderMaps = Double(max(c.inputDimA, c.inputDimB)) * area
        var (width, plane) = (dim, area)
        for _ in 1...4 {
            plane /= 4
            width = min(width * 2, 4 * dim)
            styleMaps += width * plane
        }
        (width, plane) = (dim, area)
        for _ in 0..<downsamples {
            (width, plane) = (width * 2, plane / 4)
            contentMaps += width * plane
            decoderMaps += 2 * width * plane * 4  // the upsampled map and its convolution, at 4× the plane
        }
        contentMaps += nRes * 2 * contentDim * plane
        decoderMaps += nRes * 2 * contentDim * plane
        var disMaps = 0.0, scalePlane = area
        for _ in 0..<scales {
            (width, plane) = (Double(d.dim), scalePlane / 4)
            for _ in 0..<layers {
                disMaps += width * plane
                (width, plane) = (width * 2, plane / 4)
            }
            scalePlane /= 4
        }
        // The generator step (the largest): four encodings (the images, then the translations), four
        // decodings (two more for the cycle loss), the discriminators on both translations.
        var forward = 4 * (styleMaps + contentMaps) + (c.usesCycleLoss ? 6 : 4) * decoderMaps + 2 * disMaps
        // The perceptual loss: VGG16's fixed weights, run on both images and both translations.
        var vggParameters = 0.0
        if c.usesPerceptualLoss {
            plane = area
            for layer in VGG16.layers {
                vggParameters += conv(Double(layer.input), Double(layer.output), 3)
                forward += 4 * Double(layer.output) * plane
                if VGG16.pooledAfter.contains(layer.name) { plane /= 4 }
            }
        }
        activations = forward * Double(c.batchSize) * 4 * MUNITConfigBounds.tensorsPerLayerOutput
        parameters = 4 * (parameterCount + vggParameters)
        optimizerState = 3 * 4 * parameterCount  // VGG's weights are fixed: no gradients, no moments

        // Images: each domain's batch and display images as float64 tensors, and every loaded image after
        // resizing its shorter side to new_size (at least new_size² pixels).
        let channels = Double(max(c.inputDimA, c.inputDimB))
        let newSide = Double(max(c.newSize ?? 0, c.newSizeA ?? 0, c.newSizeB ?? 0))
        images = 2 * (Double(c.batchSize) + Double(c.displaySize)) * channels * area * 8
            + 2 * Double(c.batchSize) * 3 * newSide * newSide

        let generatorLayers = 12 + 2 * Double(g.nDownsample) + 4 * nRes
        let allLayers = 2 * generatorLayers + 2 * Double(d.numScales) * (Double(d.nLayer) + 1)
        compiling = 3 * allLayers * MUNITConfigBounds.bytesPerLayer  // the dis, gen and sample steps
    }

    /// `2.61 GiB (4.66e+07 parameters 178 MiB, gradients and Adam state 533 MiB, images …, activations …,
    /// compiling …)`.
    public var description: String {
        "\(MemoryBudget.format(total)) (\(String(format: "%.3g", parameterCount)) parameters \(MemoryBudget.format(parameters)), "
            + "gradients and Adam state \(MemoryBudget.format(optimizerState)), images \(MemoryBudget.format(images)), "
            + "activations \(MemoryBudget.format(activations)), compiling \(MemoryBudget.format(compiling)))"
    }

    /// The key whose value, set back to NVlabs' default, would save the most memory, and its value (nil
    /// when none exceeds its default): the one to name when the estimate is too large.
    public static func largestContributor(_ c: MUNITConfig) -> (key: String, value: Int)? {
        let defaults = MUNITConfig()
        let keys: [(String, WritableKeyPath<MUNITConfig, Int>)] = [
            ("gen.dim", \.gen.dim), ("gen.mlp_dim", \.gen.mlpDim), ("gen.style_dim", \.gen.styleDim),
            ("gen.n_res", \.gen.nRes), ("gen.n_downsample", \.gen.nDownsample), ("dis.dim", \.dis.dim),
            ("dis.n_layer", \.dis.nLayer), ("dis.num_scales", \.dis.numScales), ("batch_size", \.batchSize),
            ("crop_image_height", \.cropImageHeight), ("crop_image_width", \.cropImageWidth),
            ("input_dim_a", \.inputDimA), ("input_dim_b", \.inputDimB), ("display_size", \.displaySize),
        ]
        let total = MUNITMemoryEstimate(training: c).total
        var best: (key: String, value: Int, saving: Double)?
        func consider(_ key: String, _ value: Int, _ changed: MUNITConfig) {
            let saving = total - MUNITMemoryEstimate(training: changed).total
            if saving > 0, saving > best?.saving ?? 0 { best = (key, value, saving) }
        }
        for (key, path) in keys where c[keyPath: path] > defaults[keyPath: path] {
            var changed = c
            changed[keyPath: path] = defaults[keyPath: path]
            consider(key, c[keyPath: path], changed)
        }
        let defaultSide = 256  // NVlabs' configs' new_size
        for (key, path) in [("new_size", \MUNITConfig.newSize), ("new_size_a", \.newSizeA), ("new_size_b", \.newSizeB)]
        where (c[keyPath: path] ?? 0) > defaultSide {
            var changed = c
            changed[keyPath: path] = defaultSide
            consider(key, c[keyPath: path] ?? 0, changed)
        }
        return best.map { ($0.key, $0.value) }
    }
}

extension MUNITConfig {
    /// Throws, naming the key to change, when training this config is impossible: a layer's feature map
    /// would vanish at the training crop (`MUNITConfigBounds.geometryProblem`, unless `geometry` is off),
    /// or the memory estimate exceeds `budget`.
    /// `held`: what the process holds already (see `MemoryBudget.check`).
    public func checkTrainingMemory(against budget: MemoryBudget, geometry: Bool = true,
                                    held: Double = MemoryBudget.residentBytes()) throws {
        if geometry, let problem = MUNITConfigBounds.geometryProblem(self) {
            throw MUNITConfigError(file: source, key: problem.key, problem.message)
        }
        let estimate = MUNITMemoryEstimate(training: self)
        guard let excess = budget.excess(estimate.total, held: held) else { return }
        let culprit = MUNITMemoryEstimate.largestContributor(self)
        throw MUNITConfigError(file: source, key: culprit?.key, (culprit.map { "\($0.value) makes " } ?? "")
            + "training need about \(estimate)\(excess)")
    }
}
