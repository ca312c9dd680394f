import Foundation

/// The memory munitc may use: `--max-memory`, else the `MUNITC_MAX_MEMORY` environment variable, else what
/// the process holds plus what the machine has available now (`MemAvailable`; the physical memory where the
/// system does not say). Pre-checks compare what the process holds plus their estimates against it before
/// allocating.
public struct MemoryBudget: Sendable, Equatable, CustomStringConvertible {
    /// The limit in bytes.
    public var bytes: Double
    /// Where the limit comes from, for messages (`--max-memory`, `available memory`).
    public var origin: String

    public init(bytes: Double, origin: String) {
        self.bytes = bytes
        self.origin = origin
    }

    /// The environment variable that sets the budget when no `--max-memory` is given.
    public static let environmentVariable = "MUNITC_MAX_MEMORY"

    /// `--max-memory` when given, else the environment's, else the machine's available memory.
    public static func resolve(option: String? = nil) throws -> MemoryBudget {
        if let option { return try parse(option, origin: "--max-memory") }
        if let text = ProcessInfo.processInfo.environment[environmentVariable], !text.isEmpty {
            return try parse(text, origin: environmentVariable)
        }
        return available()
    }

    /// The budget without a user-given limit when the environment's is malformed (for library callers
    /// that cannot report an error; commands use `resolve`).
    public static var standard: MemoryBudget { (try? resolve()) ?? available() }

    /// The memory this process can reach now: what it holds and what the machine has available besides.
    public static func available() -> MemoryBudget {
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") {
            return MemoryBudget(bytes: kilobytes * 1024 + residentBytes(), origin: "the memory available")
        }
        return MemoryBudget(bytes: Double(ProcessInfo.processInfo.physicalMemory), origin: "this machine's memory")
    }

    /// The memory this process holds now (its resident set), 0 where the system does not say.
    public static func residentBytes() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = Double(text.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// `8G`, `512M`, `1.5GB`, `300000000` (bytes); units are powers of 1024.
    public static func parse(_ text: String, origin: String) throws -> MemoryBudget {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [("TB", 0x1p40), ("GB", 0x1p30), ("MB", 0x1p20), ("KB", 0x1p10),
                                         ("T", 0x1p40), ("G", 0x1p30), ("M", 0x1p20), ("K", 0x1p10), ("B", 1)]
        let (number, scale) = units.first { trimmed.hasSuffix($0.0) }.map { (String(trimmed.dropLast($0.0.count)), $0.1) } ?? (trimmed, 1)
        guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value.isFinite, value > 0 else {
            throw MemoryBudgetError("\(origin) '\(text)' is not a memory size (such as 8G, 512M or a number of bytes)")
        }
        return MemoryBudget(bytes: value * scale, origin: origin)
    }

    /// Throws when `needed` more bytes, besides the `held` ones the process holds already, exceed the
    /// budget; `what` says what needs them (`running 'relu'`).
    public func check(_ needed: Double, for what: @autoclosure () -> String, held: Double = residentBytes()) throws {
        if let excess = excess(needed, held: held) {
            throw MemoryBudgetError("\(what()) needs about \(MemoryBudget.format(needed))\(excess)")
        }
    }

    /// Nil when `needed` more bytes besides `held` fit, else how a refusal ends:
    /// ` besides the 75 MiB munitc holds already; --max-memory is 1 GiB`.
    public func excess(_ needed: Double, held: Double = residentBytes()) -> String? {
        guard needed + held > bytes else { return nil }
        return (held > 0 ? " besides the \(MemoryBudget.format(held)) munitc holds already" : "") + "; \(self)"
    }

    /// `the memory available is 21.3 GB`.
    public var description: String { "\(origin) is \(MemoryBudget.format(bytes))" }

    /// A byte count for people, in the powers of 1024 limits are given in: `1.5 GiB`, `640 MiB`.
    public static func format(_ value: Double) -> String {
        guard value.isFinite else { return "more than \(format(Double.greatestFiniteMagnitude))" }
        for (unit, size) in [("EiB", 0x1p60), ("PiB", 0x1p50), ("TiB", 0x1p40), ("GiB", 0x1p30), ("MiB", 0x1p20), ("KiB", 0x1p10)]
        where value >= size {
            return String(format: "%.3g %@", value / size, unit)
        }
        return String(format: "%.0f bytes", value)
    }
}

/// A memory pre-check that failed, or a malformed limit.
public struct MemoryBudgetError: DescribedError, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
