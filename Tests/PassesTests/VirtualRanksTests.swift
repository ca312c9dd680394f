import Testing
@testable import GraphIR
@testable import Passes

/// `virtual-ranks`: golden text of the per-sample copies and their float64 sums, and the oracle: one process
/// running its samples as virtual ranks computes the very bits that ranks of one sample each compute.
@Suite struct VirtualRanksTests {
    /// A one-sample graph over 4 ranks: a per-sample product, a batch-axis sum all-reduced, a node that reads
    /// only a parameter, and a per-sample output.
    static let oneSample = """
        graph g {
          input %x : f32[1, 2]
          param %w : f32[2] trainable
          %0 = mul(%x, %w) : f32[1, 2]
          %1 = reduce_sum(%0) {axes = [0], keepdims = false} : f32[2]
          %2 = all_reduce(%1) {operation = mean, ranks = 4} : f32[2]
          %3 = neg(%w) : f32[2]
          %4 = add(%2, %3) : f32[2]
          output y = %4
          output z = %0
        }
        """

    @Test func samplesBecomeCopiesJoinedByFloat64Sums() throws {
        let (_, result, statistics) = try CleanupCheck.apply(VirtualRanks(samples: 2, ranks: 2), Self.oneSample)
        #expect(printGraph(result) == CleanupCheck.golden("""
            graph g {
              input %x : f32[2, 2]
              param %w : f32[2] trainable
              %0 = slice(%x) {starts = [0, 0], ends = [1, 2]} : f32[1, 2]
              %1 = slice(%x) {starts = [1, 0], ends = [2, 2]} : f32[1, 2]
              %2 = mul(%0, %w) : f32[1, 2]
              %3 = mul(%1, %w) : f32[1, 2]
              %4 = reduce_sum(%2) {axes = [0], keepdims = false} : f32[2]
              %5 = reduce_sum(%3) {axes = [0], keepdims = false} : f32[2]
              %6 = cast(%4) {dtype = f64} : f64[2]
              %7 = cast(%5) {dtype = f64} : f64[2]
              %8 = add(%6, %7) : f64[2]
              %9 = all_reduce(%8) {operation = sum, ranks = 2} : f64[2]
              %10 = scale(%9) {factor = 0.25} : f64[2]
              %11 = cast(%10) {dtype = f32} : f32[2]
              %12 = neg(%w) : f32[2]
              %13 = add(%11, %12) : f32[2]
              %14 = concat(%2, %3) {axis = 0} : f32[2, 2]
              output y = %13
              output z = %14
            }
            """))
        #expect(statistics["all-reduces-in-float64"] == 1 && statistics["nodes-copied"] == 2)
    }

    @Test func oneSampleOverTwoRanksIsLeftAlone() throws {
        let graph = try parseGraph(Self.oneSample.replacingOccurrences(of: "ranks = 4", with: "ranks = 2"))
        var statistics = PassStatistics()
        #expect(printGraph(try VirtualRanks(samples: 1, ranks: 2).run(graph, statistics: &statistics)) == printGraph(graph))
    }

    @Test func aGraphForOtherRanksIsRefused() throws {
        #expect(throws: PassError.self) { try CleanupCheck.apply(VirtualRanks(samples: 2, ranks: 1), Self.oneSample) }
        let batched = Self.oneSample.replacingOccurrences(of: "f32[1, 2]", with: "f32[3, 2]")
        #expect(throws: PassError.self) { try CleanupCheck.apply(VirtualRanks(samples: 4, ranks: 1), batched) }
    }

    /// DataParallelTests' batch norm loss for one sample over 4 ranks, differentiated and averaged: 4 simulated
    /// ranks of one sample, 2 of two and 1 process of four give the same bits for every output.
    @Test func everySplitOfTheBatchComputesTheSameBits() throws {
        let oneSample = try parseGraph(DataParallelTests.batchNormLoss.replacingOccurrences(of: "f32[4,", with: "f32[1,"))
        let rankGraph = try PassManager(pipeline: [SyncBatchStatistics(ranks: 4), Autodiff(), DataParallel(ranks: 4)] as [any Pass])
            .run(oneSample).0
        let whole = try PassManager(pipeline: [VirtualRanks(samples: 4, ranks: 1)]).run(rankGraph).0
        let arguments = CleanupCheck.randomArguments(whole, seed: 9)
        let x = try #require(arguments["x"])
        /// Rank r's consecutive share of the 4 samples, out of `ranks`.
        let share: @Sendable (Int, Int) -> [String: Tensor] = { r, ranks in
            var mine = arguments
            let count = x.scalars.count / ranks
            mine["x"] = Tensor(TensorType(.f32, [4 / ranks, 2, 3, 3]), scalars: Array(x.scalars[r * count..<(r + 1) * count]))
            return mine
        }
        let expected = try Interpreter(graph: whole).run(arguments)
        let pairs = try PassManager(pipeline: [VirtualRanks(samples: 2, ranks: 2)]).run(rankGraph).0
        let byPairs = try SimulatedGroup(size: 2).run { r in try Interpreter(graph: pairs).run(share(r, 2)) }
        // One sample per rank over 4 ranks: the graph as `stepPasses` leaves it (float64 joins), not the raw
        // rank graph, whose float32 all-reduces only the simulated group happens to add exactly.
        let singles = try PassManager(pipeline: [VirtualRanks(samples: 1, ranks: 4)]).run(rankGraph).0
        let bySingles = try SimulatedGroup(size: 4).run { r in try Interpreter(graph: singles).run(share(r, 4)) }
        for output in whole.outputs {
            let e = try #require(expected[output.name]).scalars
            for (r, results) in (byPairs + bySingles).enumerated() {
                #expect(results[output.name]?.scalars == e, "\(output.name), run \(r)")
            }
        }
    }
}
