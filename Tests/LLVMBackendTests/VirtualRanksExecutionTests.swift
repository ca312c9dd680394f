import GraphIR
import MUNITGraphs
import Passes
import Testing
@testable import LLVMBackend

/// Compiled steps give the same bits however the batch is split: one process with a batch of 2 (its
/// samples as virtual ranks) against 2 simulated ranks of one sample each on MUNIT's steps, both with a batch
/// norm discriminator, unfused and fused, 2 threads against 1; and 4 samples on 1, 2 and 4 ranks, whose
/// all-reduces are float64 sums.
@Suite struct VirtualRanksExecutionTests {
    @Test(arguments: [false, true])
    func oneProcessAndTwoRanksComputeTheSameBits(fused: Bool) throws {
        let config = MUNITStepTests.config { c in (c.dis.norm, c.batchSize) = (.batch, 2) }
        var rng = SplitMix64(seed: 7)
        let parameters = initialMUNITParameters(config: config, seed: 7)
        for kind in [MUNITGraphKind.disStep, .genStep] {
            let whole = try buildMUNITGraph(kind, config: config)
            let split = try buildMUNITGraph(kind, config: config, options: MUNITGraphOptions(ranks: 2))
            var arguments: [String: Tensor] = [:]
            for argument in whole.arguments {
                let type = whole.type(of: argument.value)
                arguments[argument.name] = parameters[argument.name] ?? (argument.name == "optimizer.step" ? Tensor(type, scalars: [1])
                    : argument.name.hasPrefix("optimizer.v.") ? Tensor.random(type, in: 0...0.01, using: &rng)
                    : argument.name == "optimizer.lr" ? Tensor(type, scalars: [1e-4]) : Tensor.random(type, in: -1...1, using: &rng))
            }
            let compile = { (graph: Graph, threads: Int) in
                try Executable(graph: fused ? PassRegistry.fusing(graph) : graph, options: CompileOptions(optimizationLevel: 2, threads: threads))
            }
            let expected = try compile(whole, 2).run(arguments)
            let executables = try (0..<2).map { _ in try compile(split, 1) }
            let shared = arguments
            let perRank = try SimulatedGroup(size: 2).run { r in
                var mine = shared
                for input in split.inputs where split.type(of: input.value).rank > 0 {
                    let x = shared[input.name]!, count = x.scalars.count / 2
                    mine[input.name] = Tensor(split.type(of: input.value), scalars: Array(x.scalars[r * count..<(r + 1) * count]))
                }
                return try executables[r].run(mine)
            }
            #expect(Set(perRank[0].keys) == Set(expected.keys))
            for (name, e) in expected {
                for r in 0..<2 {
                    let a = try #require(perRank[r][name])
                    // A per-sample output (`act.*` images and codes): the rank holds its half of the batch.
                    let mine = a.shape == e.shape ? e.scalars : Array(e.scalars[r * a.scalars.count..<(r + 1) * a.scalars.count])
                    let differing = zip(a.scalars, mine).filter { $0 != $1 }.count
                    #expect(a.scalars.count == mine.count && differing == 0, "\(kind.rawValue) \(name) on rank \(r): \(differing) elements differ")
                }
            }
        }
    }

    @Test(arguments: [false, true])
    func fourSamplesOnOneTwoAndFourRanksComputeTheSameBits(fused: Bool) throws {
        // The loss for one sample (its images' shapes end in 6, 6; the weights' do not).
        var text = CollectiveExecutionTests.loss
        for channels in [2, 3, 4] { text = text.replacingOccurrences(of: "f32[2, \(channels), 6, 6]", with: "f32[1, \(channels), 6, 6]") }
        let oneSample = try parseGraph(text)
        var rng = SplitMix64(seed: 12)
        var arguments: [String: Tensor] = [:]
        var results: [[[String: Tensor]]] = []
        for ranks in [1, 2, 4] {
            let pipeline: [any Pass] = [SyncBatchStatistics(ranks: 4), Autodiff(), DataParallel(ranks: 4, bucketBytes: 64),
                                        VirtualRanks(samples: 4 / ranks, ranks: ranks), AdamPass()] + PassRegistry.cleanupPipeline()
            let step = try PassManager(pipeline: pipeline).run(oneSample).0
            #expect(step.nodes.contains { $0.op === Ops.allReduce } == (ranks > 1))
            for argument in step.arguments where arguments[argument.name] == nil {
                let type = step.type(of: argument.value)
                arguments[argument.name] = argument.name == "optimizer.step" ? Tensor(type, scalars: [1])
                    : argument.name.hasPrefix("optimizer.v.") ? Tensor(type, repeating: 0) : Tensor.random(type, using: &rng)
            }
            let executables = try (0..<ranks).map { _ in
                try Executable(graph: fused ? PassRegistry.fusing(step) : step, options: CompileOptions(optimizationLevel: 1, threads: 1))
            }
            let shared = arguments
            results.append(try SimulatedGroup(size: ranks).run { r in
                var mine = shared
                let x = shared["x"]!, count = x.scalars.count / ranks
                mine["x"] = Tensor(TensorType(.f32, [4 / ranks, 3, 6, 6]), scalars: Array(x.scalars[r * count..<(r + 1) * count]))
                return try executables[r].run(mine)
            })
        }
        for (name, e) in results[0][0] {
            for (i, perRank) in results.enumerated() {
                for (r, outputs) in perRank.enumerated() {
                    #expect(outputs[name]?.scalars == e.scalars, "\(name): \([1, 2, 4][i]) ranks, rank \(r)")
                }
            }
        }
    }
}
