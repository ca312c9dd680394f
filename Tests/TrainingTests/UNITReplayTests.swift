import Foundation
import GraphIR
import LLVMBackend
import MUNITGraphs
import Testing
@testable import Training
import TestSupport

/// Replays NVlabs' own recordings of UNIT_Trainer (shared/reference/unit_tiny) and of MUNIT with the
/// perceptual loss (shared/reference/tiny_vgg, VGG16 read from its folder as `vgg_model_path` says).
/// Skips when the shared folder is absent.
@Suite(.serialized) struct UNITReplayTests {
    func replay(config: URL, recording url: URL, trainer: TrainerKind, backend: BackendKind, fuse: Bool = true,
                vggFolder: URL? = nil) throws -> (ReplayResult, [String: Tensor]) {
        let config = try MUNITConfig.load(contentsOf: config, trainer: trainer)
        let recording = try SafetensorsFile.read(contentsOf: url).tensors
        let batch = try #require(recording["iter1.x_a"]).shape[0]
        let options = MUNITGraphOptions(batchSize: batch, height: config.cropImageHeight, width: config.cropImageWidth)
        let execution = Execution(backend: backend, fuse: fuse, options: CompileOptions(threads: 2))
        var replay = Training.Replay(disStep: try buildMUNITGraph(.disStep, config: config, options: options),
                                     genStep: try buildMUNITGraph(.genStep, config: config, options: options),
                                     learningRate: { config.learningRate(iteration: $0) },
                                     makeRunner: { try execution.makeRunner($0) })
        // The config's vgg_model_path is "." (its folder, where the CLI runs); the tests run elsewhere.
        if let vggFolder { replay.fixedArguments = try VGG16.loadWeights(modelPath: vggFolder.path) }
        return (try replay.run(reference: recording), recording)
    }

    @Test func unitReplayOnTheInterpreterHoldsEveryParityRule() throws {
        guard let config = SharedFolder.unitTinyConfig, let url = SharedFolder.unitTinyReference else { return }
        let (result, recording) = try replay(config: config, recording: url, trainer: .unit, backend: .interp)
        #expect(result.passed, "\(result.summary())")
        #expect(result.checks.filter { $0.kind == .loss }.count == recording.keys.filter { $0.contains(".loss.") }.count)
        #expect(result.checks.filter { $0.kind == .gradient }.count == recording.keys.filter { $0.contains(".grad.") }.count)
        #expect(result.checks.filter { $0.kind == .activation }.count == recording.keys.filter { $0.contains(".act.") }.count)
    }

    @Test(arguments: [true, false])
    func unitReplayOnCompiledKernelsHoldsEveryParityRule(fuse: Bool) throws {
        guard let config = SharedFolder.unitTinyConfig, let url = SharedFolder.unitTinyReference else { return }
        let (result, _) = try replay(config: config, recording: url, trainer: .unit, backend: .llvm, fuse: fuse)
        #expect(result.passed, "\(result.summary())")
    }

    @Test func perceptualLossReplayOnCompiledKernelsHoldsEveryParityRule() throws {
        guard let folder = SharedFolder.tinyVGGFolder else { return }
        let (result, _) = try replay(config: folder.appendingPathComponent("config.yaml"),
                                     recording: folder.appendingPathComponent("reference.safetensors"),
                                     trainer: .munit, backend: .llvm, vggFolder: folder)
        #expect(result.passed, "\(result.summary())")
        #expect(result.checks.contains { $0.name == "iter2.loss.gen_vgg_b" && $0.passed })
    }
}
