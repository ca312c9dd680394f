import Foundation
import GraphIR
import LLVMBackend
import MUNITGraphs
import Passes

/// Where a training run writes: `config.yaml`, `log.jsonl`, `logs/` (TensorBoard event files), `images/`
/// (grids and `index.html`) and `checkpoints/`.
public struct TrainingOutput: Sendable {
    public var folder: URL
    public var images: URL { folder.appendingPathComponent("images") }
    public var checkpoints: URL { folder.appendingPathComponent("checkpoints") }
    public var log: URL { folder.appendingPathComponent("log.jsonl") }
    public var logs: URL { folder.appendingPathComponent("logs") }
    public init(folder: URL) { self.folder = folder }

    /// Creates the folders, or says which one cannot be made or written.
    func prepare() throws {
        for url in [folder, images, checkpoints] {
            do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                throw TrainingError("\(url.path): cannot create the output folder (\(fileErrorReason(error)))")
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
    /// Rank 0's (the one that writes).
    let tensorBoard: TensorBoardLog?
    /// The job's ranks (one without `mpirun`): each trains on its share of every batch; rank 0 alone writes.
    let communicator: any Communicator
    var writes: Bool { communicator.rank == 0 }
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
    /// in the output's checkpoint folder (an error if there is none). First, before anything is allocated,
    /// refuses a config whose training would not fit `memoryBudget`, naming the key.
    public init(config: MUNITConfig, output: TrainingOutput, seed: UInt64, maxIterations: Int? = nil, resume: Bool,
                memoryBudget: MemoryBudget = .standard, makeRunner: (Graph) throws -> any StepRunner) throws {
        try config.checkTrainingMemory(against: memoryBudget)
        self.config = config
        self.output = output
        self.maxIterations = maxIterations ?? config.maxIter
        let communicator = Collectives.current
        self.communicator = communicator
        if config.batchSize % communicator.size != 0 {
            throw TrainingError("batch_size \(config.batchSize) cannot be split evenly over the \(communicator.size) ranks of this job: "
                + "use a batch_size that is a multiple of \(communicator.size), or a number of ranks that divides it")
        }
        try output.prepare()
        checkpoints = CheckpointStore(folder: output.checkpoints, config: config)
        var seed = seed
        var restored: [String: Tensor]?
        if resume {
            guard let snapshot = try checkpoints.latest() else {
                throw TrainingError("\(output.checkpoints.path): --resume found no checkpoint (no \(CheckpointStore.optimizerFile) "
                    + "or NVlabs' \(CheckpointStore.nvlabsOptimizerFile))")
            }
            // NVlabs' snapshots carry no seed: the run's own seed goes on.
            (iteration, seed, restored) = (snapshot.iteration, snapshot.seed ?? seed, snapshot.state)
            if communicator.rank == 0 { try Trainer.truncateLog(output.log, after: snapshot.iteration, logInterval: config.logIter) }
        } else if communicator.rank == 0 {
            // A fresh run starts its own loss log (a resumed one appends to it).
            try? FileManager.default.removeItem(at: output.log)
        }
        self.seed = seed
        tensorBoard = communicator.rank != 0 ? nil
            : try TensorBoardLog(folder: output.logs, resumeAt: resume ? iteration : nil, logInterval: config.logIter)
        source = try DataSource(config: config)
        let pipeline = ImagePipeline(cropWidth: config.cropImageWidth, cropHeight: config.cropImageHeight)
        for (key, size) in [("new_size", config.newSize), ("new_size_a", config.newSizeA), ("new_size_b", config.newSizeB)] {
            if let size, size < max(config.cropImageWidth, config.cropImageHeight) {
                throw TrainingError("\(key) \(size) is smaller than the crop (crop_image_height \(config.cropImageHeight), "
                    + "crop_image_width \(config.cropImageWidth)): resized images could not be cropped")
            }
        }
        data = try BatchLoader(source: source, pipeline: pipeline, batchSize: config.batchSize, seed: seed,
                               rank: communicator.rank, ranks: communicator.size)
        let shape = MUNITGraphOptions(batchSize: config.batchSize, height: config.cropImageHeight, width: config.cropImageWidth,
                                      ranks: communicator.size)
        disGraph = try buildMUNITGraph(.disStep, config: config, options: shape)
        genGraph = try buildMUNITGraph(.genStep, config: config, options: shape)
        let moments = [disGraph, genGraph].flatMap { graph in
            graph.arguments.filter { $0.name.hasPrefix("optimizer.") && $0.name != OptimizerNames.learningRate && $0.name != OptimizerNames.step }
                .map { (name: $0.name, type: graph.type(of: $0.value)) }
        }
        if let restored { try checkpoints.checkOptimizerState(restored, moments: moments) }
        disStep = try makeRunner(disGraph)
        genStep = try makeRunner(genGraph)
        samples = try SampleWriter(config: config, data: data, source: source, seed: seed, output: output, makeRunner: makeRunner)
        // Made after compiling, so LLVM's memory and these float64 tensors do not peak together.
        hostState = restored ?? initialMUNITParameters(config: config, seed: seed)
        // VGG16 is loaded, never trained or checkpointed (NVlabs' vgg_model_path/models/vgg16.weight).
        if config.vggW > 0 { hostState.merge(try VGG16.loadWeights(config: config)) { a, _ in a } }
        restored = nil
        // The moving average starts as a copy of the weights (unless a checkpoint restored it).
        for argument in genGraph.parameters where argument.name.hasPrefix(OptimizerNames.ema("")) && hostState[argument.name] == nil {
            hostState[argument.name] = hostState[String(argument.name.dropFirst(OptimizerNames.ema("").count))]
        }
        resident = try ResidentSteps(dis: disStep, gen: genStep, samplers: samples.runners, state: hostState,
                                     zeroed: moments.map(\.name).filter { hostState[$0] == nil })
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

    /// Standard-normal noise of `type` (MUNIT's style codes, UNIT's encoder noise: this rank's share of the
    /// batch) for `purpose` at iteration `k`: this rank's rows of the whole batch's draw, so every number of
    /// ranks sees the same noise.
    func noise(_ purpose: UInt64, _ k: Int, _ type: TensorType) -> Tensor {
        var rng = SplitMix64(seed: BatchSchedule.mix(seed, 4, purpose, UInt64(k)))
        let perSample = type.elementCount / max(type.shape.first ?? 1, 1)
        let all = (0..<config.batchSize * perSample).map { _ in rng.nextNormal() }
        let rows = data.share
        return Tensor(type, scalars: Array(all[rows.lowerBound * perSample..<rows.upperBound * perSample]))
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
            return try resident.run(executable, learningRate: config.learningRate(iteration: k), step: k + 1,
                                    emaDecay: config.emaDecay(iteration: k), input: input)
        }
        let outputs = try runTrainingStep(step, graph, state: &hostState, learningRate: config.learningRate(iteration: k), step: k + 1,
                                          emaDecay: config.emaDecay(iteration: k), input: input)
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
            if writes {
                if iteration % config.logIter == 0 { try log(losses) }
                if iteration % config.imageSaveIter == 0 { try writeSamples(current: false) }
                if iteration % config.imageDisplayIter == 0 { try writeSamples(current: true) }
                if iteration % config.snapshotSaveIter == 0 { try saveCheckpoint() }
            }
            let rate = Double(iteration - startIteration) / max(Date().timeIntervalSince(start), 1e-9)
            let eta = Double(maxIterations - iteration) / max(rate, 1e-9)
            progress(String(format: "[%d/%d] %.2f it/s, ETA %@, dis %.4f, gen %.4f", iteration, maxIterations, rate,
                            Trainer.duration(eta), losses["dis_total"] ?? .nan, losses["gen_total"] ?? .nan))
        }
        guard writes else { return }
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

    /// Sample grids; compiled steps already share their parameters with the sampler. The numbered ones go
    /// to TensorBoard's Images dashboard too.
    func writeSamples(current: Bool) throws {
        let grids = try samples.write(state: resident == nil ? hostState : nil, iteration: iteration, current: current)
        if !current { for grid in grids { try tensorBoard?.image(grid.tag, png: grid.png, step: iteration) } }
    }

    /// One line of `log.jsonl`, the TensorBoard scalars (every loss under its NVlabs name, `gen_total`,
    /// `dis_total`, …, as in `log.jsonl` and the recordings, and `lr`), and the page's charts redrawn.
    func log(_ losses: [String: Double]) throws {
        let lr = config.learningRate(iteration: iteration - 1)
        var entry: [String: Any] = ["iteration": iteration, "lr": lr, "ranks": communicator.size, "trainer": config.trainer.rawValue]
        for (name, value) in losses { entry[name] = value }
        var scalars = losses
        scalars["lr"] = lr
        try tensorBoard?.scalars(scalars, step: iteration)
        try append((try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])) + Data("\n".utf8), to: output.log)
        try samples.writeIndex()
    }

    private func append(_ line: Data, to url: URL) throws {
        guard let handle = try? FileHandle(forWritingTo: url) else {
            guard FileManager.default.createFile(atPath: url.path, contents: line) else {
                throw TrainingError("\(url.path): cannot write the loss log")
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
