import Foundation
import GraphIR
import MUNITGraphs
import Passes

/// NVlabs' snapshots as safetensors in `DIR/checkpoints`: `gen_%08d.safetensors` and `dis_%08d.safetensors`
/// (numbered by iterations done) hold both networks' whole `state_dict`, parameters and buffers, as
/// `a.<name>` / `b.<name>` (strip the prefix and PyTorch's `AdaINGen` or `VAEGen` / `MsImageDis` load them
/// strictly); `optimizer.safetensors` holds Adam's moments and the iteration it belongs to; with `ema_beta`,
/// `gen_ema_%08d.safetensors` holds the generators' moving average under the same names as `gen_*` (the
/// buffers, which are not averaged, as they are). Every file's metadata names the trainer
/// (`trainer: MUNIT|UNIT`); reading a file of the other trainer is an error naming both. All are written
/// atomically, the optimizer file last, so it always names a complete snapshot: resuming reads it first.
public struct CheckpointStore {
    public let folder: URL
    public let layout: MUNITLayout
    public let trainer: TrainerKind

    public init(folder: URL, config: MUNITConfig) {
        self.folder = folder
        layout = MUNITLayout(config: config)
        trainer = config.trainer
    }

    /// The metadata key naming the trainer that wrote a file.
    public static let trainerKey = "trainer"

    public static let optimizerFile = "optimizer.safetensors"
    public static func generatorFile(_ iteration: Int) -> String { String(format: "gen_%08d.safetensors", iteration) }
    public static func discriminatorFile(_ iteration: Int) -> String { String(format: "dis_%08d.safetensors", iteration) }
    public static func averageFile(_ iteration: Int) -> String { String(format: "gen_ema_%08d.safetensors", iteration) }

    /// `gen_a.x` → `a.x`, `dis_b.y` → `b.y`: the file's key of a trainer tensor.
    static func fileKey(_ name: String, _ network: MUNITNetwork) -> String {
        let prefix = network == .genA || network == .disA ? "a." : "b."
        return prefix + name.dropFirst(network.rawValue.count + 1)
    }

    /// The trainer's tensors (parameters and buffers) of the generators or the discriminators.
    func names(generators: Bool) -> [(name: String, shape: [Int], network: MUNITNetwork)] {
        let networks: Set<MUNITNetwork> = generators ? [.genA, .genB] : [.disA, .disB]
        return layout.parameters.filter { networks.contains($0.network) }.map { ($0.name, $0.shape, $0.network) }
            + layout.buffers.filter { networks.contains($0.network) }.map { ($0.name, $0.shape, $0.network) }
    }

    /// Writes the snapshot of `iteration` from the training state (parameters, buffers, `optimizer.*`).
    public func save(_ state: [String: Tensor], iteration: Int, seed: UInt64) throws {
        try save(StateSnapshot(types: state.mapValues(\.type)) { SafetensorsFile.bytes(of: state[$0]!) }, iteration: iteration, seed: seed)
    }

    /// The same from a state read one tensor at a time (compiled steps' buffers), so no file's tensors are
    /// ever all in memory at once.
    public func save(_ state: StateSnapshot, iteration: Int, seed: UInt64) throws {
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw TrainingError("\(folder.path): cannot create the checkpoint folder (\(fileErrorReason(error)))")
        }
        for generators in [true, false] {
            var stateName: [String: String] = [:]  // file key → state name
            for entry in names(generators: generators) where state.types[entry.name] != nil {
                stateName[CheckpointStore.fileKey(entry.name, entry.network)] = entry.name
            }
            let file = folder.appendingPathComponent(generators ? CheckpointStore.generatorFile(iteration) : CheckpointStore.discriminatorFile(iteration))
            try write(to: file, types: stateName.mapValues { state.types[$0]! }) { try state.bytes(stateName[$0]!) }
        }
        if state.types.keys.contains(where: { $0.hasPrefix(OptimizerNames.ema("")) }) {
            var stateName: [String: String] = [:]
            for entry in names(generators: true) {
                let averaged = OptimizerNames.ema(entry.name), name = state.types[averaged] != nil ? averaged : entry.name
                if state.types[name] != nil { stateName[CheckpointStore.fileKey(entry.name, entry.network)] = name }
            }
            try write(to: folder.appendingPathComponent(CheckpointStore.averageFile(iteration)), types: stateName.mapValues { state.types[$0]! }) {
                try state.bytes(stateName[$0]!)
            }
        }
        // The iteration, and the seed as two exact 32-bit halves (a double holds 53 bits).
        let extra = ["iteration": Tensor(.f64, shape: [1], scalars: [Double(iteration)]),
                     "seed": Tensor(.f64, shape: [2], scalars: [Double(seed >> 32), Double(seed & 0xFFFF_FFFF)])]
        let optimizer = state.types.filter { $0.key.hasPrefix("optimizer.") }.merging(extra.mapValues(\.type)) { a, _ in a }
        try write(to: folder.appendingPathComponent(CheckpointStore.optimizerFile), types: optimizer) { name in
            try extra[name].map(SafetensorsFile.bytes(of:)) ?? state.bytes(name)
        }
    }

    private func write(to url: URL, types: [String: TensorType], bytes: (String) throws -> Data) throws {
        do { try SafetensorsFile.write(to: url, types: types, metadata: [CheckpointStore.trainerKey: trainer.rawValue], bytes: bytes) } catch {
            throw TrainingError("\(url.path): cannot write the checkpoint (\(error))")
        }
    }

    /// The largest iteration a snapshot may name: file names and the schedule count iterations as `Int`, and
    /// the file stores the number as a float64, exact up to 2^53.
    public static let maximumIteration = 1 << 53

    /// The newest complete snapshot: its iteration, seed and the state it restores (nil when none exists).
    /// A folder of NVlabs' `.pt` snapshots (no `optimizer.safetensors`) restores too, without a seed.
    /// Every value is checked (the iteration and seed exact and in range, every tensor finite); the
    /// optimiser moments are checked against the step graphs by `checkOptimizerState`.
    public func latest() throws -> (iteration: Int, seed: UInt64?, state: [String: Tensor])? {
        let optimizerURL = folder.appendingPathComponent(CheckpointStore.optimizerFile)
        guard FileManager.default.fileExists(atPath: optimizerURL.path) else {
            return try latestNVlabs().map { ($0.iteration, nil, $0.state) }
        }
        var optimizer = try read(optimizerURL)
        let k = try CheckpointStore.integer(optimizer.removeValue(forKey: "iteration"), "iteration", count: 1,
                                            maximum: Double(CheckpointStore.maximumIteration), file: optimizerURL)[0]
        // The seed is stored as two exact 32-bit halves (a double holds 53 bits).
        let halves = try CheckpointStore.integer(optimizer.removeValue(forKey: "seed"), "seed", count: 2,
                                                 maximum: Double(UInt32.max), file: optimizerURL)
        if let stray = optimizer.keys.sorted().first(where: { !$0.hasPrefix("optimizer.") }) {
            throw TrainingError("\(optimizerURL.path): has '\(stray)', which is neither optimiser state nor 'iteration' or 'seed'")
        }
        try CheckpointStore.checkFinite(optimizer, file: optimizerURL)
        var state = optimizer
        state.merge(try load(generators: true, iteration: k)) { a, _ in a }
        state.merge(try load(generators: false, iteration: k)) { a, _ in a }
        // The moving average's parameters (its buffers are the generators' own).
        let averageURL = folder.appendingPathComponent(CheckpointStore.averageFile(k))
        if FileManager.default.fileExists(atPath: averageURL.path) {
            let average = try CheckpointStore.restore(read(averageURL), names: names(generators: true), file: averageURL)
            for parameter in layout.parameters where average[parameter.name] != nil { state[OptimizerNames.ema(parameter.name)] = average[parameter.name] }
        }
        return (k, UInt64(halves[0]) << 32 | UInt64(halves[1]), state)
    }

    /// The values of a tensor of `count` whole numbers in 0...maximum, or an error naming it.
    static func integer(_ tensor: Tensor?, _ name: String, count: Int, maximum: Double, file: URL) throws -> [Int] {
        guard let tensor else {
            throw TrainingError("\(file.path): has no '\(name)' tensor (not a munitc optimizer checkpoint)")
        }
        guard tensor.scalars.count == count else {
            throw TrainingError("\(file.path): '\(name)' has \(tensor.scalars.count) values, a munitc checkpoint stores \(count)")
        }
        return try tensor.scalars.map { value in
            guard value.isFinite, value == value.rounded(), value >= 0, value <= maximum else {
                throw TrainingError("\(file.path): '\(name)' is \(value); it must be a whole number in 0...\(Int(maximum))")
            }
            return Int(value)
        }
    }

    /// Throws naming the first tensor (by name) holding an infinity or NaN.
    static func checkFinite(_ tensors: [String: Tensor], file: URL) throws {
        for (name, tensor) in tensors.sorted(by: { $0.key < $1.key }) {
            if let bad = tensor.scalars.first(where: { !$0.isFinite }) {
                throw TrainingError("\(file.path): '\(name)' holds \(bad); a checkpoint's values must be finite")
            }
        }
    }

    /// Checks a restored state's optimiser tensors against the moments the step graphs take: each present
    /// with its shape (a missing one would silently restart Adam), none the graphs do not take.
    public func checkOptimizerState(_ state: [String: Tensor], moments: [(name: String, type: TensorType)]) throws {
        let file = folder.appendingPathComponent(CheckpointStore.optimizerFile)
        for (name, type) in moments {
            guard let tensor = state[name] else {
                throw TrainingError("\(file.path): has no '\(name)' (Adam's state for it would restart at zero; "
                    + "does the checkpoint belong to this config?)")
            }
            guard tensor.shape == type.shape else {
                throw TrainingError("\(file.path): '\(name)' has shape \(tensor.shape), the config needs \(type.shape)")
            }
        }
        let expected = Set(moments.map(\.name))
        if let extra = state.keys.sorted().first(where: { $0.hasPrefix("optimizer.") && !expected.contains($0) }) {
            throw TrainingError("\(file.path): has '\(extra)', which this config's training steps do not have")
        }
    }

    /// The generators' (or discriminators') tensors of snapshot `iteration`, checked against the config.
    public func load(generators: Bool, iteration: Int) throws -> [String: Tensor] {
        let url = folder.appendingPathComponent(generators ? CheckpointStore.generatorFile(iteration) : CheckpointStore.discriminatorFile(iteration))
        return try CheckpointStore.restore(read(url), names: names(generators: generators), file: url)
    }

    /// Maps a checkpoint's `a.`/`b.` keys back to trainer names, requiring exactly the config's tensors.
    static func restore(_ tensors: [String: Tensor], names: [(name: String, shape: [Int], network: MUNITNetwork)], file: URL) throws -> [String: Tensor] {
        var state: [String: Tensor] = [:]
        for entry in names {
            let key = fileKey(entry.name, entry.network)
            guard let t = tensors[key] else {
                throw TrainingError("\(file.path): has no '\(key)' (does the checkpoint belong to this config?)")
            }
            guard t.shape == entry.shape else {
                throw TrainingError("\(file.path): '\(key)' has shape \(t.shape), the config needs \(entry.shape)")
            }
            state[entry.name] = t.converted(to: .f32)
        }
        try checkFinite(tensors, file: file)
        let expected = Set(names.map { fileKey($0.name, $0.network) })
        if let extra = tensors.keys.sorted().first(where: { !expected.contains($0) }) {
            throw TrainingError("\(file.path): has '\(extra)', which this config's networks do not have")
        }
        return state
    }

    /// A safetensors file, after checking that this store's trainer wrote it (files without the metadata come
    /// from munitc before UNIT, which trained only MUNIT), or a PyTorch one (`torch.save` of nested state
    /// dicts, keys joined with "."; NVlabs' MUNIT snapshots).
    func read(_ url: URL) throws -> [String: Tensor] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw TrainingError("\(url.path): the checkpoint file is missing") }
        if PyTorchFile.looksLikePyTorch(url) {
            do { return try PyTorchFile(contentsOf: url).tensors() } catch { throw TrainingError("\(error)") }
        }
        let file: SafetensorsFile
        do { file = try SafetensorsFile.read(contentsOf: url) } catch {
            throw TrainingError("\(url.path): cannot read the checkpoint (\(error))")
        }
        let writer = file.metadata[CheckpointStore.trainerKey] ?? TrainerKind.munit.rawValue
        guard writer == trainer.rawValue else {
            throw TrainingError("\(url.path): the checkpoint was made by the \(writer) trainer, but this run uses the "
                + "\(trainer.rawValue) trainer; give --trainer \(writer), or use a checkpoint of a \(trainer.rawValue) run")
        }
        return file.tensors
    }

    /// The tensors of a snapshot file under trainer names: a `gen_…` file's `a.x` is `gen_a.x`, a `dis_…`
    /// file's `b.y` is `dis_b.y`; the tensors of any other file keep their names.
    public static func trainerNames(_ tensors: [String: Tensor], file: URL) -> [String: Tensor] {
        let base = file.lastPathComponent
        guard let network = ["gen", "dis"].first(where: { base.hasPrefix($0 + "_") }) else { return tensors }
        var renamed: [String: Tensor] = [:]
        for (key, t) in tensors {
            let side = key.prefix(2)
            renamed[side == "a." || side == "b." ? "\(network)_\(side.prefix(1)).\(key.dropFirst(2))" : key] = t
        }
        return renamed
    }

    /// A generator file on its own (what `translate` takes, safetensors or NVlabs' `.pt`): both generators'
    /// tensors, checked.
    public static func loadGenerators(_ url: URL, config: MUNITConfig) throws -> [String: Tensor] {
        let store = CheckpointStore(folder: url.deletingLastPathComponent(), config: config)
        return try restore(store.read(url), names: store.names(generators: true), file: url)
    }
}

/// A training state as a checkpoint reads it: every tensor's type, and its bytes on demand.
public struct StateSnapshot {
    public let types: [String: TensorType]
    public let bytes: (String) throws -> Data
    public init(types: [String: TensorType], bytes: @escaping (String) throws -> Data) {
        self.types = types
        self.bytes = bytes
    }
}
