import Foundation
import GraphIR
import LLVMBackend
import MUNITGraphs
import Passes

/// Where a training run writes: `config.yaml`, `log.jsonl`, `images/` (grids and `index.html`) and
/// `checkpoints/`.
public struct TrainingOutput: Sendable {
    public var folder: URL
    public var images: URL { folder.appendingPathComponent("images") }
    public var checkpoints: URL { folder.appendingPathComponent("checkpoints") }
    public var log: URL { folder.appendingPathComponent("log.jsonl") }
    public init(folder: URL) { self.folder = folder }

    /// Creates the folders, or says which one cannot be made or written.
    func prepare() throws {
        for url in [folder, images, checkpoints] {
            do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                throw TrainingError("\(url.path): cannot create the output folder (\(error.localizedDescription))")
            }
            guard FileManager.default.isWritableFile(atPath: url.path) else {
                throw TrainingError("\(url.path): the output folder is not writable")
            }
        }
    }
}

/// NVlabs' `train.py` loop: per iteration the learning-rate schedule, the dis step, then the gen step, on
/// compiled (or interpreted) step graphs; losses logged every `log_iter`, sample grids every
/// `image_save_iter` (and `image_display_iter` as "current"), snapshots every `snapshot_save_iter`, and
/// always a grid and a snapshot of the last iteration. All randomness derives from the seed and the
/// iteration number, so a resumed run continues exactly as an uninterrupted one.
public final class Trainer {
    public let config: MUNITConfig
    public let output: TrainingOutput
    public let seed: UInt64
    public var maxIterations: Int
    /// Receives the progress line after every iteration (a person watches it).
    public var progress: (String) -> Void = { _ in }

    let data: BatchLoader
    let source: DataSource
    let disStep: any StepRunner, genStep: any StepRunner
    let disGraph: Graph, genGraph: Graph
    let samples: SampleWriter
    let checkpoints: CheckpointStore
    /// Parameters, buffers and optimiser state by graph argument name (read out of the compiled steps'
    /// buffers when they hold it).
    public var state: [String: Tensor] {
        get throws { try resident?.state() ?? hostState }
    }
    /// The state while the runners take it as tensors every step (the interpreter, or any `StepRunner`).
    private var hostState: [String: Tensor]
    /// Set when the runners are compiled steps: they hold the state, shared, between steps.
    private var resident: ResidentSteps?
    /// Iterations done.
    public private(set) var iteration = 0

    /// Builds the step graphs and runners and the data pipeline; with `resume`, restores the newest snapshot
    /// in the output's checkpoint folder (an error if there is none).
    public init(config: MUNITConfig, output: TrainingOutput, seed: UInt64, maxIterations: Int? = nil, resume: Bool,
                makeRunner: (Graph) throws -> any StepRunner) throws {
        self.config = config
        self.output = output
        self.maxIterations = maxIterations ?? config.maxIter
        try output.prepare()
        checkpoints = CheckpointStore(folder: output.checkpoints, config: config)
        var seed = seed
        var restored: [String: Tensor]?
        if resume {
            guard let snapshot = try checkpoints.latest() else {
                throw TrainingError("\(output.checkpoints.path): --resume found no checkpoint (no \(CheckpointStore.optimizerFile))")
            }
            (iteration, seed, restored) = (snapshot.iteration, snapshot.seed, snapshot.state)
            try Trainer.truncateLog(output.log, after: snapshot.iteration, logInterval: config.logIter)
        } else {
            // A fresh run starts its own loss log (a resumed one appends to it).
            try? FileManager.default.removeItem(at: output.log)
        }
        self.seed = seed
        source = try DataSource(config: config)
        let pipeline = ImagePipeline(cropWidth: config.cropImageWidth, cropHeight: config.cropImageHeight)
        for (key, size) in [("new_size", config.newSize), ("new_size_a", config.newSizeA), ("new_size_b", config.newSizeB)] {
            if let size, size < max(config.cropImageWidth, config.cropImageHeight) {
                throw TrainingError("\(key) \(size) is smaller than the crop (crop_image_height \(config.cropImageHeight), "
                    + "crop_image_width \(config.cropImageWidth)): resized images could not be cropped")
            }
        }
        data = try BatchLoader(source: source, pipeline: pipeline, batchSize: config.batchSize, seed: seed)
        let shape = MUNITGraphOptions(batchSize: config.batchSize, height: config.cropImageHeight, width: config.cropImageWidth)
        disGraph = try buildMUNITGraph(.disStep, config: config, options: shape)
        genGraph = try buildMUNITGraph(.genStep, config: config, options: shape)
        disStep = try makeRunner(disGraph)
        genStep = try makeRunner(genGraph)
        samples = try SampleWriter(config: config, data: data, source: source, seed: seed, output: output, makeRunner: makeRunner)
        // Made after compiling, so LLVM's memory and these float64 tensors do not peak together.
        hostState = restored ?? initialMUNITParameters(config: config, seed: seed)
        restored = nil
        // VGG16 is read, never trained or saved (checkpoints hold only the layout's tensors).
        hostState.merge(try VGG16.loadWeights(config: config)) { a, _ in a }
        let moments = [disGraph, genGraph].flatMap { graph in
            graph.arguments.filter { $0.name.hasPrefix("optimizer.") && $0.name != OptimizerNames.learningRate && $0.name != OptimizerNames.step }
                .map { ($0.name, graph.type(of: $0.value)) }
        }
        resident = try ResidentSteps(dis: disStep, gen: genStep, sample: samples.runner, state: hostState,
                                     zeroed: moments.map(\.0).filter { hostState[$0] == nil })
        if resident != nil {
            // The compiled steps hold the state now; a copy here would double the parameters' memory.
            hostState = [:]
            // Give the heap that compiling and the float64 tensors grew back to the system: the arena is
            // a mapping of its own and cannot reuse it.
            ProcessMemory.returnFreedHeap()
        } else {
            // Adam's moments start at zero.
            for (name, type) in moments where hostState[name] == nil { hostState[name] = Tensor.zeros(type) }
        }
    }

    /// Standard-normal noise of `type` (MUNIT's style codes, UNIT's encoder noise) for `purpose` at iteration `k`.
    func noise(_ purpose: UInt64, _ k: Int, _ type: TensorType) -> Tensor {
        var rng = SplitMix64(seed: BatchSchedule.mix(seed, 4, purpose, UInt64(k)))
        return Tensor(type, scalars: (0..<type.elementCount).map { _ in rng.nextNormal() })
    }

    /// Runs one step graph on the state and the batch; feeds `next.*` back; returns the losses. The trainer's
    /// i-th noise input is drawn for purpose `noisePurpose + i`.
    func run(_ step: any StepRunner, _ graph: Graph, batch: TrainingBatch, noisePurpose: UInt64) throws -> [String: Double] {
        let k = batch.iteration
        let noiseInputs = config.trainer.noiseInputs
        let input = { (name: String, type: TensorType) throws -> Tensor in
            switch name {
            case MUNITGraphNames.xA: return batch.a
            case MUNITGraphNames.xB: return batch.b
            default:
                guard let index = noiseInputs.firstIndex(of: name) else { throw TrainingError("internal: no value for '\(name)'") }
                return self.noise(noisePurpose + UInt64(index), k, type)
            }
        }
        if let resident, let executable = step as? Executable {
            return try resident.run(executable, learningRate: config.learningRate(iteration: k), step: k + 1, input: input)
        }
        let outputs = try runTrainingStep(step, graph, state: &hostState, learningRate: config.learningRate(iteration: k), step: k + 1, input: input)
        var losses: [String: Double] = [:]
        for (name, t) in outputs where name.hasPrefix("loss.") { losses[String(name.dropFirst(5))] = t.scalars[0] }
        return losses
    }

    /// Trains until `maxIterations` are done, then writes the last grid and snapshot.
    public func train() throws {
        let start = Date(), startIteration = iteration
        var lastLosses: [String: Double] = [:]
        while iteration < maxIterations {
            let batch = try data.batch(iteration: iteration)
            var losses = try run(disStep, disGraph, batch: batch, noisePurpose: 10)
            losses.merge(try run(genStep, genGraph, batch: batch, noisePurpose: 20)) { a, _ in a }
            if let bad = losses.sorted(by: { $0.key < $1.key }).first(where: { !$0.value.isFinite }) {
                throw TrainingError("loss '\(bad.key)' became \(bad.value) at iteration \(iteration + 1); stopped. "
                    + "The last good checkpoint is in \(output.checkpoints.path)")
            }
            iteration += 1
            lastLosses = losses
            if iteration % config.logIter == 0 { try log(losses) }
            if iteration % config.imageSaveIter == 0 { try writeSamples(current: false) }
            if iteration % config.imageDisplayIter == 0 { try writeSamples(current: true) }
            if iteration % config.snapshotSaveIter == 0 { try saveCheckpoint() }
            let rate = Double(iteration - startIteration) / max(Date().timeIntervalSince(start), 1e-9)
            let eta = Double(maxIterations - iteration) / max(rate, 1e-9)
            progress(String(format: "[%d/%d] %.2f it/s, ETA %@, dis %.4f, gen %.4f", iteration, maxIterations, rate,
                            Trainer.duration(eta), losses["dis_total"] ?? .nan, losses["gen_total"] ?? .nan))
        }
        // Whatever the intervals, the last iteration leaves a grid and a snapshot.
        if iteration % config.imageSaveIter != 0 { try writeSamples(current: false) }
        if iteration % config.snapshotSaveIter != 0 { try saveCheckpoint() }
        if iteration % config.logIter != 0 && !lastLosses.isEmpty { try log(lastLosses) }
    }

    /// A snapshot of the state after `iteration` iterations.
    func saveCheckpoint() throws {
        if let resident { try checkpoints.save(resident.snapshot(), iteration: iteration, seed: seed) }
        else { try checkpoints.save(hostState, iteration: iteration, seed: seed) }
    }

    /// Sample grids; compiled steps already share their parameters with the sampler.
    func writeSamples(current: Bool) throws {
        try samples.write(state: resident == nil ? hostState : nil, iteration: iteration, current: current)
    }

    func log(_ losses: [String: Double]) throws {
        var entry: [String: Any] = ["iteration": iteration, "lr": config.learningRate(iteration: iteration - 1)]
        for (name, value) in losses { entry[name] = value }
        let line = (try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])) + Data("\n".utf8)
        guard let handle = try? FileHandle(forWritingTo: output.log) else {
            guard FileManager.default.createFile(atPath: output.log.path, contents: line) else {
                throw TrainingError("\(output.log.path): cannot write the loss log")
            }
            return
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line)
    }

    /// Drops log lines of iterations after `iteration` (a run killed after its last snapshot logged them;
    /// the resumed run logs them again), and the end-of-run line a run stopped off the log interval wrote.
    static func truncateLog(_ url: URL, after iteration: Int, logInterval: Int) throws {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let k = object["iteration"] as? Int else { return false }
            return k < iteration || (k == iteration && k % logInterval == 0)
        }
        do { try writeFileAtomically(Data(kept.map { $0 + "\n" }.joined().utf8), to: url) } catch {
            throw TrainingError("\(url.path): cannot rewrite the loss log (\(error))")
        }
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}
