import Testing
@testable import GraphIR
@testable import Passes

/// The interpreter as the oracle of the clean-up passes on seeded random graphs: each pass alone and the
/// whole clean-up pipeline compute exactly the same outputs (bit for bit) as the graph they were given,
/// and produce valid graphs that print and parse back unchanged.
@Suite struct CleanupEquivalenceTests {
    static let seeds: [UInt64] = Array(1...60)

    /// Runs `passes` on graphs from every seed and returns the total node counts before and after.
    func check(_ passes: [any Pass], sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> (before: Int, after: Int) {
        var totals = (before: 0, after: 0)
        for seed in Self.seeds {
            let graph = try RandomGraphGenerator.make(seed: seed)
            try graph.verified()
            let (result, _) = try PassManager(pipeline: passes).run(graph)
            try CleanupCheck.expectEquivalent(graph, result, seed: seed, sourceLocation: sourceLocation)
            #expect(printGraph(try parseGraph(printGraph(result))) == printGraph(result), "seed \(seed) round-trips",
                    sourceLocation: sourceLocation)
            totals.before += graph.nodes.count
            totals.after += result.nodes.count
        }
        return totals
    }

    @Test func canonicalizeKeepsEveryValue() throws {
        let (before, after) = try check([Canonicalize()])
        #expect(after < before * 3 / 4, "the generator plants many identities: \(before) → \(after) nodes")
    }

    @Test func constantFoldingKeepsEveryValue() throws {
        let (before, after) = try check([ConstantFolding()])
        #expect(after < before, "\(before) → \(after) nodes")
    }

    @Test func cseKeepsEveryValue() throws {
        let (before, after) = try check([CommonSubexpressionElimination()])
        #expect(after < before, "\(before) → \(after) nodes")
    }

    @Test func cleanupPipelineKeepsEveryValueAndReachesAFixedPoint() throws {
        let pipeline = PassRegistry.cleanupPipeline()
        let (before, after) = try check(pipeline)
        #expect(after < before / 2, "\(before) → \(after) nodes")
        // A second run finds nothing left to do.
        for seed in Self.seeds.prefix(20) {
            let (once, _) = try PassManager(pipeline: pipeline).run(try RandomGraphGenerator.make(seed: seed))
            let (twice, records) = try PassManager(pipeline: pipeline).run(once)
            #expect(printGraph(twice) == printGraph(once), "seed \(seed): \(records.map { "\($0.name) \($0.statistics.counters)" })")
        }
    }

    /// The statistics count what happened: nodes-removed is the drop in node count for every pass.
    @Test func statisticsMatchTheNodeCounts() throws {
        for seed in Self.seeds.prefix(10) {
            let (_, records) = try PassManager(pipeline: PassRegistry.cleanupPipeline()).run(try RandomGraphGenerator.make(seed: seed))
            for record in records {
                #expect(record.statistics["nodes-removed"] == record.nodesBefore - record.nodesAfter, "seed \(seed) \(record.name)")
            }
        }
    }
}
