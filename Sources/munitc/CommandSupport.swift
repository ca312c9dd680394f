import ArgumentParser
import Foundation
import GraphIR
import MUNITGraphs

/// A failure the user can act on: printed as given to standard error, then exit status 1.
struct UserError: DescribedError {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Reports `error` the way every command does: positioned diagnostics or a one-line message on standard
/// error, then a non-zero exit.
func fail(_ error: Error, file: String) -> ExitCode {
    let text: String
    switch error {
    case let diagnostics as DiagnosticError: text = diagnostics.formatted(file: file)
    case let diagnostic as Diagnostic: text = diagnostic.formatted(file: file)
    default: text = "\(file): error: \(error)"
    }
    FileHandle.standardError.write(Data((text + "\n").utf8))
    return ExitCode.failure
}

/// Runs a command body, turning any thrown error into a message and exit status 1 (never a crash trace).
func reportingErrors(file: String, _ body: () throws -> Void) throws {
    do { try body() } catch let exit as ExitCode { throw exit } catch { throw fail(error, file: file) }
}

/// Reads, parses and verifies a `.graph` file.
func loadGraph(path: String) throws -> Graph {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw UserError("cannot read the file (does it exist and is it readable?)")
    }
    let graph = try parseGraph(data)
    try graph.verified()
    return graph
}

/// Writes text to `path`, or to standard output when `path` is nil.
func emit(_ text: String, to path: String?) throws {
    guard let path else {
        FileHandle.standardOutput.write(Data(text.utf8))
        return
    }
    do { try writeFileAtomically(Data(text.utf8), to: URL(fileURLWithPath: path)) } catch {
        throw UserError("cannot write '\(path)': \(error)")
    }
}

extension TrainerKind: ExpressibleByArgument {}

/// `--trainer MUNIT|UNIT`, for every command that reads a config (train.py's and test.py's option).
struct TrainerOption: ParsableArguments {
    @Option(help: "NVlabs' trainer the config is for: MUNIT (AdaINGen, style codes) or UNIT (VAEGen, no style).")
    var trainer: TrainerKind = .munit
}
