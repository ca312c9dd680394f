import Foundation
import GraphIR

/// libFuzzer entry point for the graph text parser: any bytes must parse (and then verify, print and parse
/// back to the same text) or give positioned diagnostics; a trap, a sanitizer report or a hang is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGraphParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let graph = try parseGraph(utf8: bytes)
        let problems = verify(graph)
        let printed = printGraph(graph)
        if problems.isEmpty {
            // Only verified graphs are promised to print as text that parses back identically.
            guard printGraph(try parseGraph(printed)) == printed else { fatalError("print → parse is not a fixed point") }
            _ = graph.nodes.reduce(Cost(flops: 0, bytes: 0)) { $0 + graph.cost(of: $1) }
        }
    } catch {
        guard error.diagnostics.allSatisfy({ $0.location != nil }) else { fatalError("unpositioned diagnostic: \(error)") }
    }
    return 0
}
