import ArgumentParser
import Foundation
import GraphIR
import MUNITGraphs
import Training

/// `munitc replay --config C.yaml [--trainer MUNIT|UNIT] --reference R.safetensors -o O.safetensors [--backend llvm|interp] [--threads N] [--no-fuse]`
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay recorded PyTorch MUNIT (or UNIT) iterations and check parity with them.",
        discussion: """
            Each iteration starts from the recording's parameters before it, keeps its own Adam state, and \
            feeds the recorded batches and noise (MUNIT's styles, UNIT's encoder noise); the dis step then the \
            gen step run, and every loss, gradient, activation and update is compared with the recording by \
            the rules of shared/reference/README.md. With vgg_w > 0, VGG16's weights are read from \
            vgg_model_path as in training. Writes the same tensor names to -o; exits 1 when a rule fails.
            """)

    @Option(help: "The NVlabs YAML config the recording was made with.") var config: String
    @OptionGroup var trainer: TrainerOption
    @Option(help: "The recording (safetensors).") var reference: String
    @Option(name: [.short, .long], help: "Where to write the replay's tensors (safetensors).") var output: String
    @OptionGroup var execution: ExecutionOptions

    func run() throws {
        try reportingErrors(file: config) {
            let settings = try MUNITConfig.load(contentsOf: URL(fileURLWithPath: config), trainer: trainer.trainer)
            for warning in settings.warnings { FileHandle.standardError.write(Data((warning.formatted + "\n").utf8)) }
            let file: SafetensorsFile
            do { file = try SafetensorsFile.read(contentsOf: URL(fileURLWithPath: reference)) } catch {
                throw UserError("\(error)")
            }
            let recording = file.tensors
            if let recorded = file.metadata["trainer"], recorded != settings.trainer.rawValue {
                throw UserError("\(reference) records the \(recorded) trainer (its metadata), but the replay uses the "
                    + "\(settings.trainer.rawValue) trainer; give --trainer \(recorded)")
            }
            guard let batch = recording["iter1.x_a"]?.shape, batch.count == 4 else {
                throw UserError("\(reference) has no 4-dimensional 'iter1.x_a' batch")
            }
            // The recording fixes batch size and crop; build the steps for exactly those.
            let options = MUNITGraphOptions(batchSize: batch[0], height: batch[2], width: batch[3])
            var replay = Training.Replay(
                disStep: try buildMUNITGraph(.disStep, config: settings, options: options),
                genStep: try buildMUNITGraph(.genStep, config: settings, options: options),
                learningRate: { settings.learningRate(iteration: $0) },
                makeRunner: { try execution.makeRunner($0) })
            replay.fixedArguments = try VGG16.loadWeights(config: settings)
            replay.progress = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
            // What the replay finds wrong (a missing or misshapen tensor) is the recording's, so it is named.
            let result: ReplayResult
            do { result = try replay.run(reference: recording) } catch let error as ReplayError { throw fail(error, file: reference) }
            do { try SafetensorsFile(tensors: result.tensors).write(to: URL(fileURLWithPath: output)) } catch {
                throw UserError("\(error)")
            }
            print(result.summary())
            if !result.passed { throw ExitCode.failure }
        }
    }
}
