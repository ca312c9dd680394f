import Testing
@testable import GraphIR
@testable import Passes

@Suite struct PassRegistryTests {
    @Test func everyNameMakesThePassOfThatName() throws {
        for name in PassRegistry.names {
            #expect(try PassRegistry.make(name).name == name)
        }
        #expect(throws: PassError.self) { try PassRegistry.make("canonicalise") }
    }

    /// The default pipelines end with the clean-up passes, dce last (it removes what the others orphan
    /// only where they leave it, and everything autodiff made that nobody reads).
    @Test func defaultPipelinesEndWithTheCleanupPasses() throws {
        let cleanup = ["constant-fold", "canonicalize", "cse", "dce"]
        #expect(PassRegistry.cleanupPipeline().map(\.name) == cleanup)
        #expect(try PassRegistry.defaultPipeline(train: nil).map(\.name) == cleanup)
        #expect(try PassRegistry.defaultPipeline(train: "adam").map(\.name) == ["autodiff", "adam"] + cleanup)
    }

    /// A pass can be left out by name, and the others still run.
    @Test func disablingCanonicalizeKeepsItsIdentities() throws {
        let graph = try parseGraph("""
            graph g {
              input %x : f32[4]
              %0 = neg(%x) : f32[4]
              %1 = neg(%0) : f32[4]
              output y = %1
            }
            """)
        var manager = PassManager(pipeline: PassRegistry.cleanupPipeline())
        #expect(try manager.run(graph).0.nodes.isEmpty)
        manager.disabled = ["canonicalize"]
        let (kept, records) = try manager.run(graph)
        #expect(kept.nodes.count == 2)
        #expect(records.map(\.ran) == [true, false, true, true])
    }
}
