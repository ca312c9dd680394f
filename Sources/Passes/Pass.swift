import GraphIR

/// A graph transformation with a kebab-case name. The name drives `--passes`, `--disable-pass`,
/// `--print-ir-after` and the statistics in build reports (MLIR's `Passes.td`).
public protocol Pass {
    /// The kebab-case name users type (`autodiff`, `adam`, `dce`, …), written once, by the pass type.
    static var name: String { get }
    /// One line for `--help` and docs.
    var summary: String { get }
    /// Transforms `graph`; counts what it did in `statistics` (`statistics["nodes-removed"] += 3`).
    func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph
}

extension Pass {
    /// The pass type's `name`.
    public var name: String { Self.name }
}

/// Named counters a pass reports (printed in build reports as `pass: name = value`).
public struct PassStatistics: Sendable, Equatable {
    public private(set) var counters: [(String, Int)] = []

    public init() {}

    public subscript(name: String) -> Int {
        get { counters.first { $0.0 == name }?.1 ?? 0 }
        set {
            if let i = counters.firstIndex(where: { $0.0 == name }) { counters[i].1 = newValue }
            else { counters.append((name, newValue)) }
        }
    }

    public static func == (a: PassStatistics, b: PassStatistics) -> Bool {
        a.counters.map(\.0) == b.counters.map(\.0) && a.counters.map(\.1) == b.counters.map(\.1)
    }
}

/// An error a pass raises: names the pass and says what it could not do.
public struct PassError: DescribedError, Sendable {
    public var pass: String
    public var message: String
    public init(pass: String, _ message: String) {
        self.pass = pass
        self.message = message
    }
    public var description: String { "\(pass): \(message)" }
}
