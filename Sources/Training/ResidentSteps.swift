import GraphIR
import LLVMBackend

/// Compiled training steps that hold the training state in their own buffers: parameters, buffers and
/// optimiser state are bound once, shared by the dis step, the gen step and the sampler (one copy of each
/// parameter, one arena as large as the largest step's), and each step's `next.*` outputs are copied back
/// over their arguments in native memory. The state leaves these buffers only for checkpoints.
///
/// The generic path (`runTrainingStep`) instead passes the whole state in and out as tensors each step:
/// for NVlabs' 256×256 config that held the state three times over in float64 and every step's arena
/// separately (7.2 GB peak against 2.9 GB for the same steps in `bench`).
final class ResidentSteps {
    let dis: Executable, gen: Executable
    /// The compiled samplers (the weights', and the moving average's when kept).
    let samplers: [Executable]
    /// The names of the state the steps hold, in a fixed order.
    let names: [String]
    /// State no step reads (buffers the graphs do not use, e.g. running statistics): kept as it was, for
    /// checkpoints.
    let unread: [String: Tensor]

    /// Nil unless both steps are compiled executables. `zeroed`: state that starts at zero (Adam's fresh
    /// moments), which argument buffers are when allocated: never made as tensors.
    init?(dis: any StepRunner, gen: any StepRunner, samplers: [any StepRunner], state: [String: Tensor], zeroed: [String]) throws {
        guard let dis = dis as? Executable, let gen = gen as? Executable else { return nil }
        (self.dis, self.gen, self.samplers) = (dis, gen, samplers.compactMap { $0 as? Executable })
        try gen.shareStorage(with: dis)
        for sampler in self.samplers {
            try sampler.shareStorage(with: dis)
            try sampler.shareStorage(with: gen)
        }
        var names: [String] = [], unread: [String: Tensor] = [:]
        for (name, tensor) in state.sorted(by: { $0.key < $1.key }) {
            let holders = ([dis, gen] + self.samplers).filter { $0.hasArgument(name) }
            if holders.isEmpty { unread[name] = tensor } else { names.append(name) }
            for executable in holders { try executable.setArgument(name, tensor) }
        }
        for name in Set(zeroed) where state[name] == nil && (dis.hasArgument(name) || gen.hasArgument(name)) { names.append(name) }
        (self.names, self.unread) = (names.sorted(), unread)
    }

    /// The state as tensors (for checkpoints and tests).
    func state() throws -> [String: Tensor] {
        var state = unread
        for name in names { state[name] = try holder(of: name).argument(name) }
        return state
    }

    /// The state for a checkpoint, each tensor's bytes copied straight out of its buffer when written.
    func snapshot() -> StateSnapshot {
        var types = unread.mapValues(\.type)
        for name in names { types[name] = holder(of: name).argumentType(name) }
        return StateSnapshot(types: types) { [self] name in
            if let tensor = unread[name] { return SafetensorsFile.bytes(of: tensor) }
            return try holder(of: name).argumentData(name)
        }
    }

    private func holder(of name: String) -> Executable { dis.hasArgument(name) ? dis : gen }

    /// Runs one step: binds the schedule's `optimizer.lr`, 1-based `optimizer.step` and `ema.beta` and, from `input`,
    /// every other argument that is not state (batches, style noise); copies `next.X` over X; returns the
    /// losses (`loss.` outputs, without the prefix).
    func run(_ step: Executable, learningRate: Double, step stepNumber: Int, emaDecay: Double,
             input: (String, TensorType) throws -> Tensor) throws -> [String: Double] {
        let held = Set(names)
        for argument in step.graph.arguments where !held.contains(argument.name) {
            let type = step.graph.type(of: argument.value)
            try step.setArgument(argument.name, try scheduledArgument(argument.name, type, learningRate: learningRate, step: stepNumber, emaDecay: emaDecay)
                                 ?? input(argument.name, type))
        }
        try step.execute()
        var losses: [String: Double] = [:]
        for output in step.graph.outputs {
            if output.name.hasPrefix("loss.") {
                losses[String(output.name.dropFirst(5))] = try step.output(output.name).scalars[0]
            } else if output.name.hasPrefix("next.") {
                try step.copyOutput(output.name, to: step, argument: String(output.name.dropFirst(5)))
            }
        }
        return losses
    }
}
