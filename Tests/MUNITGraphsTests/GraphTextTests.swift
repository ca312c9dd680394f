import Foundation
import GraphIR
import Testing
@testable import MUNITGraphs

/// Every exported graph verifies and its text round-trips through the parser unchanged.
@Suite struct GraphTextTests {
    static let configs: [[String: String?]] = [
        [:],
        ["gen.activ": "prelu", "dis.norm": "bn", "dis.gan_type": "nsgan", "recon_x_cyc_w": "1", "gen.pad_type": "zero"],
        ["dis.norm": "ln", "dis.activ": "selu", "gen.n_res": "0", "gen.pad_type": "replicate"],
    ]

    @Test(arguments: MUNITGraphKind.allCases, configs)
    func exportedTextRoundTrips(_ kind: MUNITGraphKind, _ replacements: [String: String?]) throws {
        let graph = try buildMUNITGraph(kind, config: try Fixtures.tinyConfig(replacements))
        #expect(verify(graph).isEmpty, "\(verify(graph).prefix(3).map(\.message))")
        let text = printGraph(graph)
        let parsed = try parseGraph(text)
        #expect(verify(parsed).isEmpty)
        #expect(printGraph(parsed) == text)
        #expect(parsed.arguments.map(\.name) == graph.arguments.map(\.name))
        #expect(parsed.outputs.map(\.name) == graph.outputs.map(\.name))
    }

    @Test func vggGraphsRoundTrip() throws {
        let c = try Fixtures.tinyConfig(["vgg_w": "1"])
        let graph = try buildMUNITGraph(.genLoss, config: c)
        #expect(try printGraph(parseGraph(printGraph(graph))) == printGraph(graph))
    }
}
