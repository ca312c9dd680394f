import Foundation
import GraphIR

/// The VGG16 feature extractor of MUNIT's domain-invariant perceptual loss (networks.py `Vgg16`): 13 3×3
/// convolutions with zero padding 1, each followed by ReLU, 2×2 max pooling after conv1_2, conv2_2 and
/// conv3_3, output relu5_3. Its weights are fixed: non-trainable parameters `vgg.conv1_1.weight`, ….
public struct VGG16 {
    /// The layers in order: PyTorch name, input and output channels.
    public static let layers: [(name: String, input: Int, output: Int)] = [
        ("conv1_1", 3, 64), ("conv1_2", 64, 64),
        ("conv2_1", 64, 128), ("conv2_2", 128, 128),
        ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256),
        ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512),
        ("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512),
    ]
    /// Layers followed by 2×2 max pooling.
    static let pooledAfter: Set<String> = ["conv1_2", "conv2_2", "conv3_3"]
    /// The graph's parameter prefix.
    public static let prefix = "vgg"

    let scope: Scope
    let convolutions: [PlainConv2d]

    /// Declares the 26 weight and bias parameters under `vgg.*` (never trainable).
    public init(_ context: MUNITGraphContext) {
        var scope = Scope(context, .vgg, prefix: VGG16.prefix)
        scope.frozen = true
        self.scope = scope
        convolutions = VGG16.layers.map { PlainConv2d(scope.child($0.name), input: $0.input, output: $0.output, kernel: 3) }
    }

    /// NVlabs' `vgg_preprocess`: RGB → BGR, [−1, 1] → [0, 255], minus the per-channel means of the Caffe VGG.
    public func preprocess(_ images: ValueID) throws -> ValueID {
        let b = scope.builder
        let shape = b.shape(of: images)
        let means = [103.939, 116.779, 123.680]  // B, G, R
        return try scope.naming {
            let channels = try [2, 1, 0].enumerated().map { index, source in
                var starts = [0, 0, 0, 0], ends = shape
                starts[1] = source
                ends[1] = source + 1
                let channel = try b.slice(images, starts: starts, ends: ends)
                return try b.shift(b.scale(b.shift(channel, by: 1), by: 127.5), by: -means[index])
            }
            return try b.concat(channels, axis: 1)
        }
    }

    /// relu5_3 features of already preprocessed images.
    public func features(_ x: ValueID) throws -> ValueID {
        var h = x
        for (layer, conv) in zip(VGG16.layers, convolutions) {
            h = try conv.scope.naming { try scope.builder.relu(scope.builder.conv2d(h, conv.weight, conv.bias, pad: [1, 1, 1, 1])) }
            if VGG16.pooledAfter.contains(layer.name) {
                h = try conv.scope.naming { try scope.builder.maxPool2d(h, kernel: [2, 2], stride: [2, 2]) }
            }
        }
        return h
    }

    /// NVlabs' `compute_vgg_loss(vgg, img, target)`: mean((IN(f(img)) − IN(f(target)))²) with an instance
    /// norm without affine over the features, both images preprocessed.
    public func perceptualLoss(_ image: ValueID, target: ValueID) throws -> ValueID {
        let b = scope.builder
        let imageFeatures = try features(preprocess(image))
        let targetFeatures = try features(preprocess(target))
        return try scope.naming {
            try b.meanAll(b.square(b.sub(b.instanceNorm(imageFeatures), b.instanceNorm(targetFeatures))))
        }
    }

    /// The weights `config` needs, as training and replay read them: none when `vgg_w` is 0, else from its
    /// `vgg_model_path` (or ".", train.py's default output path, when unset); errors name `vgg_model_path`
    /// and the file looked for.
    public static func loadWeights(config: MUNITConfig) throws -> [String: Tensor] {
        guard config.usesPerceptualLoss else { return [:] }
        return try loadWeights(modelPath: config.vggModelPath ?? ".",
                               origin: config.vggModelPath == nil ? "vgg_model_path is not set, so '.'" : "vgg_model_path '\(config.vggModelPath!)'")
    }

    /// Reads `<modelPath>/models/vgg16.safetensors`, or NVlabs' `models/vgg16.weight` (the PyTorch `Vgg16`
    /// state_dict, read by the restricted PyTorch reader), names `conv1_1.weight`, …, and returns the tensors
    /// under the graph's names (`vgg.conv1_1.weight`, …), shapes checked. `origin` says where `modelPath`
    /// came from, for the message when neither file exists.
    public static func loadWeights(modelPath: String, origin: String? = nil) throws -> [String: Tensor] {
        let models = URL(fileURLWithPath: modelPath).appendingPathComponent("models")
        let (safetensors, pytorch) = (models.appendingPathComponent("vgg16.safetensors"), models.appendingPathComponent("vgg16.weight"))
        let url: URL, tensors: [String: Tensor]
        if FileManager.default.fileExists(atPath: safetensors.path) {
            (url, tensors) = (safetensors, try SafetensorsFile.read(contentsOf: safetensors).tensors)
        } else if FileManager.default.fileExists(atPath: pytorch.path) {
            (url, tensors) = (pytorch, try PyTorchFile(contentsOf: pytorch).tensors())
        } else {
            throw MUNITGraphError("vgg_w > 0 needs VGG16's weights; \(origin ?? "vgg_model_path '\(modelPath)'") gives '\(pytorch.path)' "
                + "(NVlabs' PyTorch Vgg16 state_dict) or '\(safetensors.path)' (the same names: conv1_1.weight, conv1_1.bias, …); "
                + "neither exists: put one there, or set vgg_model_path")
        }
        var weights: [String: Tensor] = [:]
        for layer in layers {
            for (leaf, shape) in [("weight", [layer.output, layer.input, 3, 3]), ("bias", [layer.output])] {
                let name = "\(layer.name).\(leaf)"
                guard let tensor = tensors[name] else { throw MUNITGraphError("\(url.path): no tensor '\(name)'") }
                guard tensor.shape == shape else {
                    throw MUNITGraphError("\(url.path): '\(name)' has shape \(tensor.shape), VGG16 needs \(shape)")
                }
                weights["\(prefix).\(name)"] = tensor.converted(to: .f32)
            }
        }
        return weights
    }
}
