import Testing
@testable import GraphIR
@testable import Passes

/// `sync-batch-statistics` and `data-parallel`: golden text of what they insert, and the oracle: a graph
/// split over simulated ranks (each with its share of the batch) computes what the whole graph computes on
/// the whole batch.
@Suite struct DataParallelTests {
    /// A loss mixing the samples two ways: batch norm, then a mean over everything.
    static let batchNormLoss = """
        graph g {
          input %x : f32[4, 2, 3, 3]
          param %gamma : f32[2] trainable
          param %beta : f32[2] trainable
          param %w : f32[2, 2, 1, 1] trainable
          %0 = conv2d(%x, %w) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[4, 2, 3, 3]
          %1 = batch_norm(%0, %gamma, %beta) {eps = 1e-05} : f32[4, 2, 3, 3]
          %2 = relu(%1) : f32[4, 2, 3, 3]
          %3 = reduce_mean(%2) {axes = [0, 1, 2, 3], keepdims = false} : f32[]
          loss loss = %3
        }
        """

    @Test func syncReplacesBatchStatisticsByAllReduces() throws {
        let (_, result, statistics) = try CleanupCheck.apply(SyncBatchStatistics(ranks: 2), Self.batchNormLoss)
        #expect(printGraph(result) == CleanupCheck.golden("""
            graph g {
              input %x : f32[4, 2, 3, 3]
              param %gamma : f32[2] trainable
              param %beta : f32[2] trainable
              param %w : f32[2, 2, 1, 1] trainable
              %0 = conv2d(%x, %w) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[4, 2, 3, 3]
              %1 = reduce_mean(%0) {axes = [0, 2, 3], keepdims = true} : f32[1, 2, 1, 1]
              %2 = all_reduce(%1) {operation = mean, ranks = 2} : f32[1, 2, 1, 1]
              %3 = sub(%0, %2) : f32[4, 2, 3, 3]
              %4 = square(%3) : f32[4, 2, 3, 3]
              %5 = reduce_mean(%4) {axes = [0, 2, 3], keepdims = true} : f32[1, 2, 1, 1]
              %6 = all_reduce(%5) {operation = mean, ranks = 2} : f32[1, 2, 1, 1]
              %7 = shift(%6) {offset = 1e-05} : f32[1, 2, 1, 1]
              %8 = sqrt(%7) : f32[1, 2, 1, 1]
              %9 = div(%3, %8) : f32[4, 2, 3, 3]
              %10 = reshape(%gamma) {shape = [1, 2, 1, 1]} : f32[1, 2, 1, 1]
              %11 = mul(%9, %10) : f32[4, 2, 3, 3]
              %12 = reshape(%beta) {shape = [1, 2, 1, 1]} : f32[1, 2, 1, 1]
              %13 = add(%11, %12) : f32[4, 2, 3, 3]
              %14 = relu(%13) : f32[4, 2, 3, 3]
              %15 = reduce_mean(%14) {axes = [0, 1, 2, 3], keepdims = false} : f32[]
              %16 = all_reduce(%15) {operation = mean, ranks = 2} : f32[]
              loss loss = %16
            }
            """))
        #expect(statistics["batch-norms-synchronized"] == 1 && statistics["reductions-synchronized"] == 1)
    }

    @Test func dataParallelAveragesGradientsInBuckets() throws {
        let differentiated = try PassManager(pipeline: [Autodiff()]).run(parseGraph(Self.batchNormLoss)).0
        var statistics = PassStatistics()
        // A cap below every gradient's size: each gradient-finishing node closes a bucket.
        let small = try DataParallel(ranks: 2, bucketBytes: 1).run(differentiated, statistics: &statistics)
        try small.verified()
        #expect(statistics["gradients-averaged"] == 3 && statistics["buckets"] == 3)
        statistics = PassStatistics()
        let one = try DataParallel(ranks: 2).run(differentiated, statistics: &statistics)
        #expect(statistics["gradients-averaged"] == 3 && statistics["buckets"] == 1)
        #expect(statistics["bytes-averaged"] == (2 + 2 + 4) * 4)
        // Every gradient output reads the bucket's all-reduce, placed right after the last gradient it holds
        // (where the runtime can start it while the rest of the step runs).
        let bucket = try #require(one.nodes.firstIndex { $0.op === Ops.allReduce })
        for output in one.outputs where output.name.hasPrefix("grad.") {
            #expect(one.nodes[bucket].results.contains(output.value), "\(output.name)")
        }
        let producers = one.nodes[bucket].operands.compactMap { operand -> Int? in
            guard case .node(let producer, _) = one.values[operand.index].definition else { return nil }
            return producer
        }
        #expect(producers.max().map { $0 + 1 } == bucket)
    }

    @Test func syncRefusesOpsThatMixTheBatch() throws {
        let text = """
            graph g {
              input %x : f32[4, 3]
              %0 = transpose(%x) {perm = [1, 0]} : f32[3, 4]
              %1 = reduce_mean(%0) {axes = [0, 1], keepdims = false} : f32[]
              loss loss = %1
            }
            """
        #expect(throws: PassError.self) { try CleanupCheck.apply(SyncBatchStatistics(ranks: 2), text) }
    }

    /// The whole graph on the whole batch against the data-parallel graph on 2 and 4 simulated ranks, each
    /// on its consecutive share: the loss, every gradient and the synchronised statistics agree.
    @Test(arguments: [2, 4])
    func ranksTogetherComputeTheWholeBatch(_ ranks: Int) throws {
        let whole = try PassManager(pipeline: [Autodiff()]).run(parseGraph(Self.batchNormLoss)).0
        let split = try PassManager(pipeline: [SyncBatchStatistics(ranks: ranks), Autodiff(), DataParallel(ranks: ranks)] as [any Pass])
            .run(parseGraph(Self.batchNormLoss.replacingOccurrences(of: "f32[4,", with: "f32[\(4 / ranks),"))).0
        let arguments = CleanupCheck.randomArguments(whole, seed: 3)
        let expected = try Interpreter(graph: whole).run(arguments)
        let x = try #require(arguments["x"])
        let share = x.scalars.count / ranks
        let perRank = try SimulatedGroup(size: ranks).run { r in
            var mine = arguments
            mine["x"] = Tensor(TensorType(.f32, [4 / ranks, 2, 3, 3]), scalars: Array(x.scalars[r * share..<(r + 1) * share]))
            return try Interpreter(graph: split).run(mine)
        }
        for output in whole.outputs {
            let e = try #require(expected[output.name])
            for r in 0..<ranks {
                let a = try #require(perRank[r][output.name])
                let scale = max(e.scalars.map(Swift.abs).max() ?? 0, 1e-6)
                let worst = zip(e.scalars, a.scalars).map { Swift.abs($0 - $1) / scale }.max() ?? 0
                #expect(worst < 1e-5, "\(output.name) on rank \(r): relative error \(worst)")
                #expect(a.scalars == perRank[0][output.name]!.scalars, "ranks disagree on \(output.name)")
            }
        }
    }

    @Test func allReduceOfAConstantFolds() throws {
        let (text, _) = try CleanupCheck.run(ConstantFolding(), """
            graph g {
              %0 = constant() {dtype = f32, shape = [2], value = 3.0} : f32[2]
              %1 = all_reduce(%0) {operation = sum, ranks = 4} : f32[2]
              %2 = all_reduce(%0) {operation = mean, ranks = 4} : f32[2]
              output s = %1
              output m = %2
            }
            """.replacingOccurrences(of: "ranks = 4", with: "ranks = 1"))
        #expect(text.contains("value = 3.0") && !text.contains("all_reduce"))
        var statistics = PassStatistics()
        let folded = try ConstantFolding().run(parseGraph("""
            graph g {
              %0 = constant() {dtype = f32, shape = [2], value = 3.0} : f32[2]
              %1 = all_reduce(%0) {operation = sum, ranks = 4} : f32[2]
              output s = %1
            }
            """), statistics: &statistics)
        #expect(printGraph(folded).contains("value = 12.0"))
    }
}
