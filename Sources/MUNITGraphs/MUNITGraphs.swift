import GraphIR
import Passes

/// The graphs `buildMUNITGraph` makes from a config.
public enum MUNITGraphKind: String, CaseIterable, Sendable {
    /// The discriminators' loss (NVlabs `dis_update` before `backward`); discriminator parameters trainable.
    case disLoss = "dis-loss"
    /// The generators' loss with every component and intermediate; generator parameters trainable.
    case genLoss = "gen-loss"
    /// `disLoss` differentiated, with PyTorch Adam's update of the discriminator parameters.
    case disStep = "dis-step"
    /// `genLoss` differentiated, with PyTorch Adam's update of the generator parameters.
    case genStep = "gen-step"
    /// Content of one domain decoded with a given style by the other domain's decoder (test.py); for UNIT,
    /// the code decoded by the other domain's decoder, no style.
    case translate
}

/// Which way `translate` goes: a2b = gen_a's content encoder, then gen_b's MLP and decoder.
public enum TranslationDirection: String, CaseIterable, Sendable {
    case a2b, b2a
}

/// Names of the graphs' runtime inputs and outputs that are not parameters.
public enum MUNITGraphNames {
    /// Training graphs: the image batches [B, input_dim, H, W] in [−1, 1] and the style noise
    /// [B, style_dim, 1, 1] (the dis and gen steps each draw their own).
    public static let xA = "x_a", xB = "x_b", sA = "s_a", sB = "s_b"
    /// UNIT's encoder noise, shaped like the code [B, dim·2^n, H/2^n, W/2^n]: for `gen_a.encode(x_a)`,
    /// `gen_b.encode(x_b)` and (gen step only) the re-encodings `gen_a.encode(x_ba)`, `gen_b.encode(x_ab)`.
    public static let nA = "n_a", nB = "n_b", nBRecon = "n_b_recon", nARecon = "n_a_recon"
    /// Translation: the source images, the style code, the translated images and the content code.
    public static let translateInput = "x", translateStyle = "s"
    public static let translated = "x_translated", translateContent = "c"
    /// The updated value of a buffer or parameter (the optimiser's convention).
    public static func next(_ name: String) -> String { OptimizerNames.next(name) }
}

/// Shapes a graph is built for: defaults from the config (`batch_size`, `crop_image_height`,
/// `crop_image_width`); translation often runs at other sizes.
public struct MUNITGraphOptions: Sendable {
    public var direction: TranslationDirection = .a2b
    public var batchSize: Int?
    public var height: Int?
    public var width: Int?
    /// The ranks of a data-parallel job: each builds the step for its share of the batch (`batch / ranks`),
    /// with the all-reduces of `sync-batch-statistics` and `data-parallel`.
    public var ranks: Int
    public init(direction: TranslationDirection = .a2b, batchSize: Int? = nil, height: Int? = nil, width: Int? = nil,
                ranks: Int = 1) {
        self.direction = direction
        self.batchSize = batchSize
        self.height = height
        self.width = width
        self.ranks = ranks
    }
}

/// The batch and image size of a graph.
struct GraphSize {
    /// This rank's share of the batch (the whole batch on one rank).
    var batch: Int
    var height: Int
    var width: Int
    var ranks: Int

    init(_ config: MUNITConfig, _ options: MUNITGraphOptions) throws {
        let global = options.batchSize ?? config.batchSize
        height = options.height ?? config.cropImageHeight
        width = options.width ?? config.cropImageWidth
        ranks = options.ranks
        guard global > 0, height > 0, width > 0 else {
            throw MUNITGraphError("batch \(global) and image size \(height)×\(width) must be positive")
        }
        guard ranks >= 1, global % ranks == 0 else {
            throw MUNITGraphError("batch_size \(global) cannot be split evenly over \(ranks) ranks: "
                + "use a batch_size that is a multiple of \(ranks), or \(ranks == 1 ? "" : "a number of ranks that divides it")")
        }
        batch = global / ranks
    }

    /// One sample of this size, on all the job's samples as ranks: the graph `VirtualRanks` copies per sample.
    var oneSample: GraphSize {
        var one = self
        (one.batch, one.ranks) = (1, batch * ranks)
        return one
    }
}

/// Builds one of the graphs of `config.trainer` (MUNIT or UNIT) for `config`, following NVlabs' trainer.
///
/// Parameters carry the trainer's `state_dict` names (`gen_a.enc_style.model.0.conv.weight`, …); batch norm
/// running statistics are non-trainable parameters with `next.<name>` outputs. The step graphs add the
/// `optimizer.lr` and `optimizer.step` inputs and `optimizer.m.*` / `optimizer.v.*` state of `AdamPass`
/// (β1, β2 and weight decay from the config, ε 1e-8). Errors name the layer whose shapes do not work.
public func buildMUNITGraph(_ kind: MUNITGraphKind, config: MUNITConfig, options: MUNITGraphOptions = MUNITGraphOptions()) throws -> Graph {
    let size = try GraphSize(config, options)
    let prefix = config.trainer.graphPrefix
    switch kind {
    case .disLoss: return try disLossGraph(config, size)
    case .genLoss: return try genLossGraph(config, size)
    case .disStep:
        return try trainingStep(disLossGraph(config, size.oneSample), config: config, size: size, name: "\(prefix)_dis_step")
    case .genStep:
        return try trainingStep(genLossGraph(config, size.oneSample), config: config, size: size, name: "\(prefix)_gen_step",
                                average: config.emaBeta != nil)
    case .translate:
        switch config.trainer {
        case .munit: return try buildTranslateGraph(config, size, direction: options.direction)
        case .unit: return try buildUNITTranslateGraph(config, size, direction: options.direction)
        }
    }
}

/// The trainer's `dis_update` up to the loss.
func disLossGraph(_ config: MUNITConfig, _ size: GraphSize) throws -> Graph {
    switch config.trainer {
    case .munit: try buildDisLossGraph(config, size)
    case .unit: try buildUNITDisLossGraph(config, size)
    }
}

/// The trainer's `gen_update` up to the loss.
func genLossGraph(_ config: MUNITConfig, _ size: GraphSize) throws -> Graph {
    switch config.trainer {
    case .munit: try buildGenLossGraph(config, size)
    case .unit: try buildUNITGenLossGraph(config, size)
    }
}

/// PyTorch Adam as NVlabs' trainer configures it.
func adamOptions(_ config: MUNITConfig) -> AdamOptions {
    AdamOptions(beta1: config.beta1, beta2: config.beta2, epsilon: 1e-8, weightDecay: config.weightDecay)
}

/// The loss graph differentiated with respect to its trainable parameters, then PyTorch Adam's update, then
/// the clean-up passes every pipeline ends with (PassRegistry.cleanupPipeline: folding, identities,
/// norm-cancelled conv biases, CSE, and dce dropping gradients nobody reads, w.r.t. the images and the frozen
/// networks' inputs).
func trainingStep(_ loss: Graph, config: MUNITConfig, size: GraphSize, name: String, average: Bool = false) throws -> Graph {
    let manager = PassManager(pipeline: stepPasses(config: config, size: size, average: average) + PassRegistry.cleanupPipeline())
    var (step, _) = try manager.run(loss)
    step.name = name
    return step
}

/// The passes from a loss graph built for one sample (`GraphSize.oneSample`) to the step before clean-up:
/// autodiff, Adam and, with `average`, the parameters' moving average (`EMAPass`). A batch of several samples
/// (on this process, or over several ranks) runs each sample as a rank of its own (`VirtualRanks`), so the
/// step computes the same bits whatever the number of processes.
func stepPasses(config: MUNITConfig, size: GraphSize, average: Bool) -> [any Pass] {
    let samples = size.batch * size.ranks
    let differentiate: [any Pass] = samples == 1 ? [Autodiff()]
        : [SyncBatchStatistics(ranks: samples), Autodiff(), DataParallel(ranks: samples), VirtualRanks(samples: size.batch, ranks: size.ranks)]
    return differentiate + [AdamPass(options: adamOptions(config))] + (average ? [EMAPass()] : [])
}

/// test.py's translation: `c` = content of `x` by the source generator, decoded by the target generator's
/// MLP and decoder with style `s`. Only those parameters are declared, all non-trainable.
func buildTranslateGraph(_ config: MUNITConfig, _ size: GraphSize, direction: TranslationDirection) throws -> Graph {
    let (source, target) = direction == .a2b ? (MUNITNetwork.genA, MUNITNetwork.genB) : (.genB, .genA)
    let (inputDim, outputDim) = direction == .a2b ? (config.inputDimA, config.inputDimB) : (config.inputDimB, config.inputDimA)
    let b = GraphBuilder(name: "munit_translate_\(direction.rawValue)")
    let x = b.input(MUNITGraphNames.translateInput, TensorType(.f32, [size.batch, inputDim, size.height, size.width]))
    let s = b.input(MUNITGraphNames.translateStyle, TensorType(.f32, [size.batch, config.gen.styleDim, 1, 1]))
    let context = MUNITGraphContext(builder: b)
    let encoder = ContentEncoder(context, network: source, inputDim: inputDim, options: config.gen)
    let decoder = Decoder(context, network: target, contentDim: encoder.outputDim, outputDim: outputDim, options: config.gen)
    let mlp = StyleMLP(context, network: target, outputDim: decoder.adainParameterCount, options: config.gen)

    let content = try encoder.apply(x)
    let translated = try decoder.apply(content, mlpOutput: mlp.isUsed ? mlp.apply(s) : nil)
    b.output(MUNITGraphNames.translated, translated)
    b.output(MUNITGraphNames.translateContent, content)
    return b.graph
}
