import GraphIR

/// The trainer's networks, named as NVlabs' `MUNIT_Trainer` attributes (the `state_dict` prefixes).
public enum MUNITNetwork: String, CaseIterable, Sendable {
    case genA = "gen_a", genB = "gen_b", disA = "dis_a", disB = "dis_b"
    /// The fixed VGG16 of the perceptual loss (never trained, not part of checkpoints).
    case vgg
}

/// One learned tensor of the trainer, under its PyTorch `state_dict` name.
public struct MUNITParameter: Hashable, Sendable {
    /// What the tensor is, which decides how it is initialised.
    public enum Role: String, Hashable, Sendable {
        case convolutionWeight, convolutionBias, linearWeight, linearBias
        case layerNormGamma, layerNormBeta, preluSlope, batchNormWeight, batchNormBias
    }
    public var name: String
    public var shape: [Int]
    public var role: Role
    public var network: MUNITNetwork
}

/// A `state_dict` buffer: AdaIN's unused running statistics (kept so PyTorch's strict `load_state_dict`
/// accepts our checkpoints) and batch norm's running statistics (updated by every training forward pass).
public struct MUNITBuffer: Hashable, Sendable {
    public enum Role: String, Hashable, Sendable {
        case adainRunningMean, adainRunningVar, batchNormRunningMean, batchNormRunningVar
    }
    public var name: String
    public var shape: [Int]
    public var role: Role
    public var network: MUNITNetwork

    /// PyTorch's initial value: 0 for means, 1 for variances.
    public var initialValue: Double {
        role == .adainRunningMean || role == .batchNormRunningMean ? 0 : 1
    }

    /// Batch norm statistics are graph arguments updated through `next.<name>` outputs; AdaIN's are not used.
    public var isUpdatedByTraining: Bool { role == .batchNormRunningMean || role == .batchNormRunningVar }

    /// The tensor PyTorch starts with.
    public var initialTensor: Tensor { Tensor(TensorType(.f32, shape), repeating: initialValue) }
}

/// A failure building a MUNIT graph; names the layer (by `state_dict` prefix) and the problem.
public struct MUNITGraphError: DescribedError, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Declares the trainer's parameters on a `GraphBuilder` once (so a network applied several times reuses
/// the same values) and records what it declared, for initialisation and checkpoints.
///
/// Parameters of networks in `trainable` are trainable graph parameters; all others are non-trainable.
/// Batch norm running statistics are non-trainable parameters whose updated values, after every
/// application, become `next.<name>` outputs when `addBufferUpdateOutputs()` is called.
public final class MUNITGraphContext {
    public let builder: GraphBuilder
    public let trainable: Set<MUNITNetwork>
    /// The ranks sharing the batch: batch statistics count the samples of all of them.
    public let ranks: Int
    public private(set) var parameters: [MUNITParameter] = []
    public private(set) var buffers: [MUNITBuffer] = []
    /// The current value of each updated buffer (its argument until a forward pass replaces it).
    private var bufferValues: [String: (argument: ValueID, current: ValueID)] = [:]

    public init(builder: GraphBuilder, trainable: Set<MUNITNetwork> = [], ranks: Int = 1) {
        self.builder = builder
        self.trainable = trainable
        self.ranks = ranks
    }

    /// Declares a parameter; `frozen` keeps it non-trainable whatever `trainable` says.
    func declare(_ name: String, _ shape: [Int], _ role: MUNITParameter.Role, _ network: MUNITNetwork,
                 frozen: Bool = false) -> ValueID {
        parameters.append(MUNITParameter(name: name, shape: shape, role: role, network: network))
        return builder.parameter(name, TensorType(.f32, shape), trainable: !frozen && trainable.contains(network))
    }

    /// Records a buffer; updated ones (batch norm) also become non-trainable graph parameters.
    @discardableResult
    func declareBuffer(_ name: String, _ shape: [Int], _ role: MUNITBuffer.Role, _ network: MUNITNetwork) -> ValueID? {
        let buffer = MUNITBuffer(name: name, shape: shape, role: role, network: network)
        buffers.append(buffer)
        guard buffer.isUpdatedByTraining else { return nil }
        let value = builder.parameter(name, TensorType(.f32, shape), trainable: false)
        bufferValues[name] = (value, value)
        return value
    }

    /// The buffer's value as the last forward pass left it.
    func currentBuffer(_ name: String) -> ValueID? { bufferValues[name]?.current }

    /// Records the buffer's value after a forward pass.
    func updateBuffer(_ name: String, _ value: ValueID) {
        guard let entry = bufferValues[name] else { preconditionFailure("buffer \(name) was not declared") }
        bufferValues[name] = (entry.argument, value)
    }

    /// Adds a `next.<name>` output for every buffer a forward pass updated, in declaration order.
    public func addBufferUpdateOutputs() {
        for buffer in buffers {
            guard let entry = bufferValues[buffer.name], entry.current != entry.argument else { continue }
            builder.output("next.\(buffer.name)", entry.current)
        }
    }
}

/// A `state_dict` prefix inside one network (`gen_a.enc_style.model.0`).
struct Scope {
    let context: MUNITGraphContext
    let prefix: String
    let network: MUNITNetwork
    /// Declare this scope's parameters non-trainable (see `MLP` with no AdaIN layers).
    var frozen = false

    init(_ context: MUNITGraphContext, _ network: MUNITNetwork, prefix: String? = nil) {
        self.context = context
        self.network = network
        self.prefix = prefix ?? network.rawValue
    }

    var builder: GraphBuilder { context.builder }

    func child(_ component: String) -> Scope {
        var scope = Scope(context, network, prefix: prefix.isEmpty ? component : "\(prefix).\(component)")
        scope.frozen = frozen
        return scope
    }

    func child(_ index: Int) -> Scope { child(String(index)) }

    func name(_ leaf: String) -> String { prefix.isEmpty ? leaf : "\(prefix).\(leaf)" }

    func parameter(_ leaf: String, _ shape: [Int], _ role: MUNITParameter.Role) -> ValueID {
        context.declare(name(leaf), shape, role, network, frozen: frozen)
    }

    /// Runs `body`, prefixing any error with this scope's name so shape errors point at a layer.
    func naming<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as MUNITGraphError { throw error } catch {
            throw MUNITGraphError("\(prefix): \(error)")
        }
    }
}
