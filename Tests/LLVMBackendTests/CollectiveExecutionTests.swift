import Foundation
import GraphIR
import Passes
import Testing
@testable import LLVMBackend

/// Compiled data-parallel steps on simulated ranks: the executor starts each all-reduce where its operands are
/// final and waits where a kernel first reads it; the results match the interpreter's, rank by rank.
@Suite struct CollectiveExecutionTests {
    static let loss = """
        graph g {
          input %x : f32[2, 3, 6, 6]
          param %gamma : f32[4] trainable
          param %beta : f32[4] trainable
          param %w : f32[4, 3, 3, 3] trainable
          param %w2 : f32[2, 4, 1, 1] trainable
          %0 = conv2d(%x, %w) {stride = [1, 1], pad = [1, 1, 1, 1]} : f32[2, 4, 6, 6]
          %1 = batch_norm(%0, %gamma, %beta) {eps = 1e-05} : f32[2, 4, 6, 6]
          %2 = relu(%1) : f32[2, 4, 6, 6]
          %3 = conv2d(%2, %w2) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 2, 6, 6]
          %4 = square(%3) : f32[2, 2, 6, 6]
          %5 = reduce_mean(%4) {axes = [0, 1, 2, 3], keepdims = false} : f32[]
          loss loss = %5
        }
        """

    @Test(arguments: [false, true])
    func compiledRanksMatchTheInterpretersRanks(fused: Bool) throws {
        // Small buckets, so several all-reduces are in flight during the backward pass.
        let pipeline: [any Pass] = [SyncBatchStatistics(ranks: 2), Autodiff(), DataParallel(ranks: 2, bucketBytes: 64),
                                    AdamPass()] + PassRegistry.cleanupPipeline()
        let step = try PassManager(pipeline: pipeline).run(parseGraph(Self.loss)).0
        #expect(step.nodes.filter { $0.op === Ops.allReduce }.count > 3)
        let compiled = fused ? try PassRegistry.fusing(step) : step
        var rng = SplitMix64(seed: 4)
        var perRankArguments: [[String: Tensor]] = [[:], [:]]
        for argument in step.arguments {
            let type = step.type(of: argument.value)
            for r in 0..<2 {
                perRankArguments[r][argument.name] = argument.name == "optimizer.step" ? Tensor(type, scalars: [1])
                    : argument.name.hasPrefix("optimizer.m.") || argument.name.hasPrefix("optimizer.v.") ? Tensor(type, repeating: 0)
                    : argument.isParameter || r == 0 || argument.name == "optimizer.lr" ? perRankArguments[0][argument.name] ?? Tensor.random(type, using: &rng)
                    : Tensor.random(type, using: &rng)
            }
        }
        let arguments = perRankArguments
        let executables = try (0..<2).map { _ in try Executable(graph: compiled, options: CompileOptions(optimizationLevel: 1, threads: 1)) }
        let expected = try SimulatedGroup(size: 2).run { r in try Interpreter(graph: step).run(arguments[r]) }
        let actual = try SimulatedGroup(size: 2).run { r in try executables[r].run(arguments[r]) }
        for r in 0..<2 {
            for output in step.outputs {
                let (e, a) = (expected[r][output.name]!.scalars, actual[r][output.name]!.scalars)
                let scale = 1 + (e.map(Swift.abs).max() ?? 0)
                let worst = zip(e, a).map { Swift.abs($0 - $1) / scale }.max() ?? 0
                #expect(worst < 1e-5, "rank \(r) \(output.name): \(worst)")
            }
        }
        for output in step.outputs where output.name.hasPrefix("next.") || output.name.hasPrefix("grad.") {
            #expect(actual[0][output.name]!.scalars == actual[1][output.name]!.scalars, "\(output.name): ranks disagree")
        }
    }

    @Test func aRunWithTheWrongNumberOfRanksIsRefused() throws {
        let step = try PassManager(pipeline: [SyncBatchStatistics(ranks: 2), Autodiff(), DataParallel(ranks: 2)] as [any Pass])
            .run(parseGraph(Self.loss)).0
        let executable = try Executable(graph: step, options: CompileOptions(optimizationLevel: 0, threads: 1))
        #expect(throws: BackendError.self) { try executable.execute() }
    }
}
