import protocol GraphIR.DescribedError

/// A config that cannot be used: the file, the position when known, the key, and what is wrong (for a bad
/// value: the value and the allowed values).
///
/// `description` leaves the file out, as every munitc error does (the command prefixes it:
/// `C.yaml: error: key 'gen.activ': 'foo' is not one of relu, … (line 18, column 10)`); `formatted` is the
/// whole compiler-style line, `C.yaml:18:10: error: key 'gen.activ': …`.
public struct MUNITConfigError: DescribedError, Sendable, Equatable {
    public var file: String
    public var line: Int?
    public var column: Int?
    /// The dotted key (`gen.activ`), or nil for a problem with the whole file.
    public var key: String?
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, key: String?, _ message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    public var description: String {
        let position = line.map { " (line \($0)\(column.map { ", column \($0)" } ?? ""))" } ?? ""
        return "\(key.map { "key '\($0)': " } ?? "")\(message)\(position)"
    }

    /// `FILE:LINE:COL: error: key 'k': message`.
    public var formatted: String {
        "\(file)\(line.map { ":\($0):\(column ?? 1)" } ?? ""): error: \(key.map { "key '\($0)': " } ?? "")\(message)"
    }
}

/// A problem that did not stop a config from loading (an unknown key), in the same two spellings as
/// `MUNITConfigError`.
public struct MUNITConfigWarning: CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var line: Int?
    public var column: Int?
    public var key: String
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, key: String, _ message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    public var description: String {
        "key '\(key)': \(message)" + (line.map { " (line \($0)\(column.map { ", column \($0)" } ?? ""))" } ?? "")
    }

    /// `FILE:LINE:COL: warning: key 'k': message`.
    public var formatted: String {
        "\(file)\(line.map { ":\($0):\(column ?? 1)" } ?? ""): warning: key '\(key)': \(message)"
    }
}
