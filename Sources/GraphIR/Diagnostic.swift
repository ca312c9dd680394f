/// A positioned error about a graph or its text, printed as `FILE:LINE:COL: error: message` so editors and
/// scripts can jump to it.
public struct Diagnostic: DescribedError, Hashable, Sendable {
    public var location: SourceLocation?
    public var message: String

    public init(_ message: String, at location: SourceLocation? = nil) {
        self.message = message
        self.location = location
    }

    /// The message prefixed with `file:line:col: error:` (or `file: error:` when there is no position).
    public func formatted(file: String) -> String {
        if let l = location { return "\(file):\(l.line):\(l.column): error: \(message)" }
        return "\(file): error: \(message)"
    }

    public var description: String { formatted(file: "<graph>") }
}

/// One or more diagnostics, thrown by the parser and the verifier.
public struct DiagnosticError: DescribedError, Sendable {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    /// Every diagnostic formatted against `file`, one per line.
    public func formatted(file: String) -> String {
        diagnostics.map { $0.formatted(file: file) }.joined(separator: "\n")
    }
    public var description: String { formatted(file: "<graph>") }
}
