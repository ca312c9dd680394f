import Foundation

/// A MUNIT or UNIT training configuration: the keys of NVlabs/MUNIT's YAML configs (`configs/*.yaml`), typed,
/// and the trainer they are read for (`trainer`, train.py's `--trainer`), which decides the required keys.
///
/// Read one with `MUNITConfig.load(contentsOf:)` or `MUNITConfig.parse(yaml:file:)`; the loader checks every
/// key MUNIT uses and collects warnings for keys it does not know (`warnings`). Property names are the YAML
/// keys in camel case (`recon_x_cyc_w` → `reconXCycW`); `init` is `initialization`.
public struct MUNITConfig: Sendable, Equatable {
    /// Conv2dBlock and LinearBlock activations (`activ`); `lrelu` has slope 0.2, `prelu` one learned slope.
    public enum Activation: String, CaseIterable, Sendable {
        case relu, lrelu, prelu, selu, tanh, none
    }

    /// How a Conv2dBlock pads its input (`pad_type`).
    public enum PadType: String, CaseIterable, Sendable {
        case reflect, replicate, zero
    }

    /// The discriminator's norm (`dis.norm`): none, instance norm, MUNIT's LayerNorm or batch norm.
    public enum DiscriminatorNorm: String, CaseIterable, Sendable {
        case none
        case instance = "in"
        case layer = "ln"
        case batch = "bn"
    }

    /// The GAN objective (`dis.gan_type`).
    public enum GANType: String, CaseIterable, Sendable {
        case lsgan, nsgan
    }

    /// How convolution and linear weights are drawn (`init`); see `initialMUNITParameters`.
    public enum Initialization: String, CaseIterable, Sendable {
        case kaiming, gaussian, xavier, orthogonal
    }

    /// The learning-rate schedule (`lr_policy`).
    public enum LearningRatePolicy: String, CaseIterable, Sendable {
        case step, constant
    }

    /// The `gen:` section: one AdaINGen (MUNIT) or VAEGen (UNIT, which reads neither `mlp_dim` nor
    /// `style_dim`) per domain.
    public struct Generator: Sendable, Equatable {
        public var dim: Int
        public var mlpDim: Int
        public var styleDim: Int
        public var activ: Activation
        public var nDownsample: Int
        public var nRes: Int
        public var padType: PadType

        public init(dim: Int = 64, mlpDim: Int = 256, styleDim: Int = 8, activ: Activation = .relu,
                    nDownsample: Int = 2, nRes: Int = 4, padType: PadType = .reflect) {
            self.dim = dim
            self.mlpDim = mlpDim
            self.styleDim = styleDim
            self.activ = activ
            self.nDownsample = nDownsample
            self.nRes = nRes
            self.padType = padType
        }
    }

    /// The `dis:` section: one multi-scale discriminator per domain.
    public struct Discriminator: Sendable, Equatable {
        public var dim: Int
        public var norm: DiscriminatorNorm
        public var activ: Activation
        public var nLayer: Int
        public var ganType: GANType
        public var numScales: Int
        public var padType: PadType

        public init(dim: Int = 64, norm: DiscriminatorNorm = .none, activ: Activation = .lrelu, nLayer: Int = 4,
                    ganType: GANType = .lsgan, numScales: Int = 3, padType: PadType = .reflect) {
            self.dim = dim
            self.norm = norm
            self.activ = activ
            self.nLayer = nLayer
            self.ganType = ganType
            self.numScales = numScales
            self.padType = padType
        }
    }

    /// Which of NVlabs' trainers the config is for.
    public var trainer: TrainerKind = .munit

    // Optimisation.
    public var batchSize: Int = 1
    public var lr: Double = 1e-4
    public var beta1: Double = 0.5
    public var beta2: Double = 0.999
    public var weightDecay: Double = 1e-4
    /// `ema_beta`: the decay of the generators' moving average (imaginaire's `ModelAverage`); nil (the
    /// key absent) keeps no average.
    public var emaBeta: Double?
    /// `ema_start_iter`: iterations before the average starts decaying (until then it copies the weights).
    public var emaStartIter: Int = 0

    /// The moving average's decay for 0-based iteration `k`: 0 (a copy) before `ema_start_iter`.
    public func emaDecay(iteration k: Int) -> Double { k < emaStartIter ? 0 : emaBeta ?? 0 }
    /// The `init` key.
    public var initialization: Initialization = .kaiming
    public var lrPolicy: LearningRatePolicy = .step
    /// Used by the `step` policy only.
    public var stepSize: Int = 100_000
    /// Used by the `step` policy only.
    public var gamma: Double = 0.5

    // Loss weights.
    public var ganW: Double = 1
    public var reconXW: Double = 10
    public var reconSW: Double = 1
    public var reconCW: Double = 1
    public var reconXCycW: Double = 0
    /// UNIT only: the KL terms of the codes and of the re-encoded codes.
    public var reconKLW: Double = 0.01
    public var reconKLCycW: Double = 0.01
    public var vggW: Double = 0
    /// Where VGG16's weights live (`<path>/models/vgg16.safetensors`); NVlabs' train.py sets it to its
    /// `--output_path`. Only read when `vggW` > 0.
    public var vggModelPath: String?

    // Networks.
    public var gen = Generator()
    public var dis = Discriminator()
    public var inputDimA: Int = 3
    public var inputDimB: Int = 3

    // Data.
    /// `new_size` (or nil when the config gives `new_size_a` / `new_size_b` instead).
    public var newSize: Int?
    public var newSizeA: Int?
    public var newSizeB: Int?
    public var cropImageHeight: Int = 256
    public var cropImageWidth: Int = 256
    public var dataRoot: String?
    /// The list-file keys (`data_folder_train_a`, `data_list_train_a`, …) as given.
    public var dataLists: [String: String] = [:]
    public var numWorkers: Int?

    // Logging; the defaults are those of NVlabs' configs/edges2handbags_folder.yaml.
    public var maxIter: Int = 1_000_000
    public var logIter: Int = 10
    public var imageSaveIter: Int = 10_000
    public var imageDisplayIter: Int = 500
    public var snapshotSaveIter: Int = 10_000
    public var displaySize: Int = 16

    /// Problems that did not stop loading (unknown keys).
    public var warnings: [MUNITConfigWarning] = []
    /// The file the config was read from (or the name given to `parse`), for messages.
    public var source: String = "<config>"

    /// A config with NVlabs' defaults (configs/edges2handbags_folder.yaml).
    public init() {}

    /// Whether the explicit cycle reconstruction loss is on (`recon_x_cyc_w` > 0), as NVlabs decides it
    /// (NVlabs' UNIT fails without it; munitc then drops the cycle terms and reports them as 0).
    public var usesCycleLoss: Bool { reconXCycW > 0 }

    /// Whether the domain-invariant perceptual loss is on (`vgg_w` > 0).
    public var usesPerceptualLoss: Bool { vggW > 0 }

    /// This config with `vgg_w` 0: what the dis steps (no perceptual loss) and the layout (VGG16 is not
    /// trained) are built from.
    public var withoutPerceptualLoss: MUNITConfig {
        var config = self
        config.vggW = 0
        return config
    }

    /// The learning rate of iteration `iteration` (counting from 0). NVlabs' train.py steps the scheduler at
    /// the start of every iteration, so `step` gives lr₀ · gamma^⌊(i + 1) / step_size⌋; `constant` gives lr₀.
    public func learningRate(iteration: Int) -> Double {
        switch lrPolicy {
        case .constant: return lr
        case .step: return lr * Foundation.pow(gamma, Double((iteration + 1) / stepSize))
        }
    }
}
