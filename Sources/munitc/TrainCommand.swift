import ArgumentParser
import Foundation
import GraphIR
import MUNITGraphs
import Training

/// `munitc train [--config C.yaml] [--trainer MUNIT|UNIT] [-o|--output DIR] [--resume] [--max-iter N] [--threads N] [--seed S]`
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train MUNIT or UNIT (NVlabs' train.py): the embedded shapes data set by default, or an NVlabs config.",
        discussion: """
            Each iteration: the learning-rate schedule, the discriminator step, the generator step. Writes \
            DIR/config.yaml, DIR/log.jsonl (losses every log_iter), DIR/images/ (sample grids every \
            image_save_iter, 'current' ones every image_display_iter, and index.html), and \
            DIR/checkpoints/ (gen_%08d / dis_%08d / optimizer .safetensors every snapshot_save_iter). \
            A finished run always leaves a grid and a checkpoint of its last iteration. --resume continues from \
            the newest checkpoint exactly as if never stopped (or from NVlabs' gen_/dis_%08d.pt and optimizer.pt); \
            checkpoints record the trainer, and resuming one of the other trainer is an error. \
            DIR/logs/ holds TensorBoard event files (losses, lr, grids); index.html charts the losses. \
            With ema_beta in the config, gen_ema_%08d.safetensors holds the generators' moving average. Without --config, munitc draws a data set of \
            line drawings of shapes (A) and filled, shaded shapes (B) into DIR/data and trains a small MUNIT (or UNIT).
            """)

    @Option(help: "An NVlabs MUNIT config (default: the embedded shapes set-up).") var config: String?
    @OptionGroup var trainer: TrainerOption
    @Option(name: [.short, .long], help: "The output folder (default: outputs/<config name>).") var output: String?
    @Flag(help: "Continue from the newest checkpoint in the output folder.") var resume = false
    @Option(help: "Stop after this many iterations (overrides max_iter).") var maxIter: Int?
    @Option(help: "The seed of every random choice (initialisation, data order, crops, style noise).") var seed: UInt64 = 0
    @OptionGroup var execution: ExecutionOptions

    func validate() throws {
        if let maxIter, maxIter < 1 { throw ValidationError("--max-iter must be at least 1, got \(maxIter)") }
    }

    func run() throws {
        try reportingErrors(file: config ?? "munitc train") {
            let folder = URL(fileURLWithPath: output ?? "outputs/" + (config.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } ?? "shapes"))
            let rank = Collectives.current.rank
            // Rank 0 alone holds the folder's lock (a second run in this folder would interleave the logs and
            // checkpoints), draws the embedded data and writes; the other ranks wait for it.
            let lock = rank == 0 ? try FolderLock(folder: folder) : nil
            defer { withExtendedLifetime(lock) {} }
            let (settings, configText) = try loadConfig(folder: folder, drawsData: rank == 0)
            if rank == 0 {
                do {
                    try writeFileAtomically(configText, to: folder.appendingPathComponent("config.yaml"))
                } catch { throw UserError("\(folder.path): cannot write the output folder (\(fileErrorReason(error)))") }
            }
            try Collectives.current.barrier()
            if let job = Munitc.job, rank == 0 {
                FileHandle.standardError.write(Data("data-parallel over \(job.size) ranks, \(execution.compileOptions.threads) threads each\n".utf8))
            }
            let trainer = try Trainer(config: settings, output: TrainingOutput(folder: folder), seed: seed, maxIterations: maxIter,
                                      resume: resume, memoryBudget: execution.memoryBudget, makeRunner: { try execution.makeRunner($0, updatingArguments: true) })
            let interactive = isatty(2) != 0
            var lastLine = Date.distantPast
            trainer.progress = { line in
                guard rank == 0 else { return }
                // A live line on a terminal; one line every few seconds in a log.
                if interactive { FileHandle.standardError.write(Data(("\r" + line + "   ").utf8)) }
                else if Date().timeIntervalSince(lastLine) > 5 { FileHandle.standardError.write(Data((line + "\n").utf8)); lastLine = Date() }
            }
            if resume { FileHandle.standardError.write(Data("resuming at iteration \(trainer.iteration)\n".utf8)) }
            try trainer.train()
            if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
            guard rank == 0 else { return }
            print("trained \(trainer.iteration) iterations; samples: \(folder.appendingPathComponent("images/index.html").path); "
                + "checkpoints: \(folder.appendingPathComponent("checkpoints").path)")
        }
    }

    /// The config and its text to copy into DIR; without --config, the embedded one with its data drawn.
    func loadConfig(folder: URL, drawsData: Bool) throws -> (MUNITConfig, Data) {
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else {
                throw UserError("\(config): cannot read the config file")
            }
            let settings = try MUNITConfig.load(contentsOf: URL(fileURLWithPath: config), trainer: trainer.trainer)
            for warning in settings.warnings { FileHandle.standardError.write(Data((warning.formatted + "\n").utf8)) }
            return (settings, data)
        }
        let dataRoot = folder.appendingPathComponent("data")
        if drawsData {
            FileHandle.standardError.write(Data("drawing the shapes data set into \(dataRoot.path)\n".utf8))
            try ShapesDataset.generate(at: dataRoot)
        }
        let text = ShapesDataset.config(dataRoot: dataRoot.standardizedFileURL.path, trainer: trainer.trainer)
        return (try MUNITConfig.parse(yaml: text, file: "<embedded config>", trainer: trainer.trainer), Data(text.utf8))
    }
}
