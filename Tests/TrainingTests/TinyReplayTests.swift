import Foundation
import GraphIR
import LLVMBackend
import MUNITGraphs
import Testing
@testable import Training
import TestSupport

/// Replays NVlabs/MUNIT's own recorded iterations (shared/reference/tiny) on the interpreter: the definition
/// of "correct". Skips when the shared folder is absent.
@Suite(.serialized) struct TinyReplayTests {
    func loadTiny() throws -> (MUNITConfig, [String: Tensor])? {
        guard let config = SharedFolder.tinyConfig, let recording = SharedFolder.tinyReference else { return nil }
        return (try MUNITConfig.load(contentsOf: config), try SafetensorsFile.read(contentsOf: recording).tensors)
    }

    func replay(_ config: MUNITConfig, batch: Int, backend: BackendKind = .interp,
                compile: CompileOptions = CompileOptions()) throws -> Training.Replay {
        let options = MUNITGraphOptions(batchSize: batch, height: config.cropImageHeight, width: config.cropImageWidth)
        return Training.Replay(disStep: try buildMUNITGraph(.disStep, config: config, options: options),
                               genStep: try buildMUNITGraph(.genStep, config: config, options: options),
                               learningRate: { config.learningRate(iteration: $0) },
                               makeRunner: { try backend.makeRunner($0, options: compile) })
    }

    @Test func replayOnCompiledKernelsHoldsEveryParityRule() throws {
        guard let (config, recording) = try loadTiny() else { return }
        let result = try replay(config, batch: recording["iter1.x_a"]!.shape[0], backend: .llvm).run(reference: recording)
        #expect(result.passed, "\(result.summary())")
        #expect(result.checks.filter { $0.kind == .gradient }.count == recording.keys.filter { $0.contains(".grad.") }.count)
    }

    /// The AVX2 code path (what an AVX2-only machine runs), whatever vector class the host has.
    @Test func replayOnAVX2KernelsHoldsEveryParityRule() throws {
        guard HostCPU.current.isa >= .avx2, let (config, recording) = try loadTiny() else { return }
        let result = try replay(config, batch: recording["iter1.x_a"]!.shape[0], backend: .llvm,
                                compile: CompileOptions(targetCPU: "haswell")).run(reference: recording)
        #expect(result.passed, "\(result.summary())")
    }

    @Test func replayOfTheTinyRecordingHoldsEveryParityRule() throws {
        guard let (config, recording) = try loadTiny() else { return }
        let result = try replay(config, batch: recording["iter1.x_a"]!.shape[0]).run(reference: recording)
        #expect(result.passed, "\(result.summary())")
        #expect(result.checks.filter { $0.kind == .loss }.count == 28)
        #expect(result.checks.filter { $0.kind == .gradient }.count == recording.keys.filter { $0.contains(".grad.") }.count)
        #expect(result.checks.filter { $0.kind == .activation }.count == recording.keys.filter { $0.contains(".act.") }.count)
        for key in recording.keys where key.hasPrefix("iter") && !key.contains(".x_") && !key.contains(".s_") {
            #expect(result.tensors[key]?.shape == recording[key]?.shape, "\(key) written with the recording's shape")
        }
    }

    @Test func aTamperedRecordingFailsTheRules() throws {
        guard let (config, full) = try loadTiny() else { return }
        // One iteration is enough; scale one recorded gradient by 1.1 and one loss by 1.001.
        var recording = full.filter { !$0.key.hasPrefix("iter2.") }
        let gradientKey = "iter1.grad.dis.dis_a.cnns.0.0.conv.weight"
        var gradient = try #require(recording[gradientKey])
        gradient.scalars = gradient.scalars.map { $0 * 1.1 }
        recording[gradientKey] = gradient
        var loss = try #require(recording["iter1.loss.gen_total"])
        loss.scalars[0] *= 1.001
        recording["iter1.loss.gen_total"] = loss
        let result = try replay(config, batch: 2).run(reference: recording)
        let failures = Set(result.checks.filter { !$0.passed }.map(\.name))
        #expect(failures == [gradientKey, "iter1.loss.gen_total"])
    }
}
