import Testing
import MUNITGraphs

@Test func munitGraphsModuleSeesTheOpTable() { #expect(MUNITGraphsModule.opCount > 0) }
