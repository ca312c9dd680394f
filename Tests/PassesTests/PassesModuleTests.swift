import Testing
import Passes

@Test func passesModuleSeesTheOpTable() { #expect(PassesModule.opCount > 0) }
