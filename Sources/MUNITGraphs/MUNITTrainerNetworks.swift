import GraphIR

/// One domain's generator as a trainer builds it: MUNIT's `AdaINGenerator` or UNIT's `VAEGenerator`.
public protocol DomainGenerator {
    /// Declares the generator's parameters under `<network>.*` in `state_dict` order.
    init(_ context: MUNITGraphContext, network: MUNITNetwork, inputDim: Int, options: MUNITConfig.Generator)
}

/// The four networks of NVlabs' trainers (and the VGG16 of the perceptual loss when it is on), declared on
/// one context in `state_dict` order: gen_a, gen_b, dis_a, dis_b. Only the generators differ between
/// MUNIT and UNIT.
public struct TrainerNetworks<Generator: DomainGenerator> {
    public let genA: Generator
    public let genB: Generator
    public let disA: MultiScaleDiscriminator
    public let disB: MultiScaleDiscriminator
    /// Present when `config.vggW` > 0.
    public let vgg: VGG16?

    public init(_ context: MUNITGraphContext, config: MUNITConfig) {
        genA = Generator(context, network: .genA, inputDim: config.inputDimA, options: config.gen)
        genB = Generator(context, network: .genB, inputDim: config.inputDimB, options: config.gen)
        disA = MultiScaleDiscriminator(context, network: .disA, inputDim: config.inputDimA, options: config.dis)
        disB = MultiScaleDiscriminator(context, network: .disB, inputDim: config.inputDimB, options: config.dis)
        vgg = config.usesPerceptualLoss ? VGG16(context) : nil
    }
}

/// NVlabs' `MUNIT_Trainer` networks.
public typealias MUNITTrainerNetworks = TrainerNetworks<AdaINGenerator>
/// NVlabs' `UNIT_Trainer` networks.
public typealias UNITTrainerNetworks = TrainerNetworks<VAEGenerator>

/// The trainer's parameters and buffers for a config (its `trainer` chooses the generators), under their
/// `state_dict` names and in `state_dict` order: what initialisation fills and what checkpoints hold. VGG16
/// is not included (it is loaded, never trained or saved).
public struct MUNITLayout: Sendable {
    public var parameters: [MUNITParameter]
    public var buffers: [MUNITBuffer]

    public init(config: MUNITConfig) {
        let context = MUNITGraphContext(builder: GraphBuilder(name: "layout"))
        switch config.trainer {
        case .munit: _ = MUNITTrainerNetworks(context, config: config.withoutPerceptualLoss)
        case .unit: _ = UNITTrainerNetworks(context, config: config.withoutPerceptualLoss)
        }
        parameters = context.parameters
        buffers = context.buffers
    }

    /// Parameters of one network.
    public func parameters(of network: MUNITNetwork) -> [MUNITParameter] { parameters.filter { $0.network == network } }

    /// Total number of learned values.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.shape.reduce(1, *) } }
}
