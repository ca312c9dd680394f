import GraphIR

/// The four networks of NVlabs' `MUNIT_Trainer` (and the VGG16 of the perceptual loss when it is on),
/// declared on one context in `state_dict` order: gen_a, gen_b, dis_a, dis_b.
public struct MUNITTrainerNetworks {
    public let genA: AdaINGenerator
    public let genB: AdaINGenerator
    public let disA: MultiScaleDiscriminator
    public let disB: MultiScaleDiscriminator
    /// Present when `config.vggW` > 0.
    public let vgg: VGG16?

    public init(_ context: MUNITGraphContext, config: MUNITConfig) {
        genA = AdaINGenerator(context, network: .genA, inputDim: config.inputDimA, options: config.gen)
        genB = AdaINGenerator(context, network: .genB, inputDim: config.inputDimB, options: config.gen)
        disA = MultiScaleDiscriminator(context, network: .disA, inputDim: config.inputDimA, options: config.dis)
        disB = MultiScaleDiscriminator(context, network: .disB, inputDim: config.inputDimB, options: config.dis)
        vgg = config.usesPerceptualLoss ? VGG16(context) : nil
    }
}

/// The trainer's parameters and buffers for a config, under their `state_dict` names and in `state_dict`
/// order: what initialisation fills and what checkpoints hold. VGG16 is not included (it is loaded, never
/// trained or saved).
public struct MUNITLayout: Sendable {
    public var parameters: [MUNITParameter]
    public var buffers: [MUNITBuffer]

    public init(config: MUNITConfig) {
        let context = MUNITGraphContext(builder: GraphBuilder(name: "layout"))
        var withoutVGG = config
        withoutVGG.vggW = 0
        _ = MUNITTrainerNetworks(context, config: withoutVGG)
        parameters = context.parameters
        buffers = context.buffers
    }

    /// Parameters of one network.
    public func parameters(of network: MUNITNetwork) -> [MUNITParameter] { parameters.filter { $0.network == network } }

    /// Total number of learned values.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.shape.reduce(1, *) } }
}
