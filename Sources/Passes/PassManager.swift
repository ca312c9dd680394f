import Foundation
import GraphIR

/// What the pass manager did with one pass.
public struct PassRecord: Sendable {
    public var name: String
    /// False when the pass was disabled (`--disable-pass`) and skipped.
    public var ran: Bool
    public var seconds: Double
    public var nodesBefore: Int
    public var nodesAfter: Int
    public var statistics: PassStatistics
}

/// Runs an explicit pipeline of passes: verifies after each (on by default; the IR is checked where it
/// changed hands), times them, can print the IR after any of them, and can skip any by name.
public struct PassManager {
    public var pipeline: [any Pass]
    /// Names of passes to skip.
    public var disabled: Set<String> = []
    /// Print the IR after these passes (`all` for every one).
    public var printIRAfter: Set<String> = []
    /// Verify the graph after every pass (cheap next to everything else; disable only for benchmarks).
    public var verifyEach = true
    /// Where `--print-ir-after` text goes (standard error by default, so it never mixes with `-o -`).
    public var printer: (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }

    public init(pipeline: [any Pass]) { self.pipeline = pipeline }

    /// Checks that every name given to `--disable-pass` / `--print-ir-after` names a pass of the pipeline.
    public func validateNames() throws {
        let known = Set(pipeline.map(\.name))
        for name in disabled.union(printIRAfter.subtracting(["all"])) where !known.contains(name) {
            throw PassError(pass: name, "no pass of that name in the pipeline (\(pipeline.map(\.name).joined(separator: ", ")))")
        }
    }

    /// Runs the pipeline and returns the final graph and a record per pass.
    public func run(_ graph: Graph) throws -> (Graph, [PassRecord]) {
        try validateNames()
        var current = graph
        var records: [PassRecord] = []
        for pass in pipeline {
            let before = current.nodes.count
            guard !disabled.contains(pass.name) else {
                records.append(PassRecord(name: pass.name, ran: false, seconds: 0, nodesBefore: before,
                                          nodesAfter: before, statistics: PassStatistics()))
                continue
            }
            var statistics = PassStatistics()
            let start = DispatchTime.now().uptimeNanoseconds
            current = try pass.run(current, statistics: &statistics)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if verifyEach {
                let problems = verify(current)
                if !problems.isEmpty {
                    throw PassError(pass: pass.name, "produced an invalid graph:\n"
                        + problems.map { "  \($0.message)" }.joined(separator: "\n"))
                }
            }
            records.append(PassRecord(name: pass.name, ran: true, seconds: seconds, nodesBefore: before,
                                      nodesAfter: current.nodes.count, statistics: statistics))
            if printIRAfter.contains("all") || printIRAfter.contains(pass.name) {
                printer("// ----- IR after \(pass.name) -----\n" + printGraph(current))
            }
        }
        return (current, records)
    }
}
