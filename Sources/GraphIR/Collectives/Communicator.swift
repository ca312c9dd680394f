import Foundation

/// How `all_reduce` combines the ranks' values element by element.
public enum ReduceOperation: String, CaseIterable, Sendable {
    /// Σ over the ranks.
    case sum
    /// Σ over the ranks / the number of ranks: the average of equal shares (gradients, losses).
    case mean
}

/// An all-reduce started by `Communicator.startAllReduce`; `wait` completes it. Waiting twice is harmless.
public protocol CollectiveRequest: AnyObject {
    /// Blocks until the buffer holds the reduced values; throws when a rank failed.
    func wait() throws
    /// Lets the transfer advance without blocking (MPI progresses a non-blocking collective only when called).
    func progress()
}

extension CollectiveRequest {
    public func progress() {}
}

/// The ranks of a data-parallel job, as the runtimes see them: MPI in real jobs, threads in tests.
///
/// Every rank must issue the same collectives in the same order (the graphs are identical on every rank,
/// so their schedules are). Reductions are deterministic for a given number of ranks.
public protocol Communicator: AnyObject, Sendable {
    /// This process's (or thread's) rank, 0 ..< size.
    var rank: Int { get }
    /// The number of ranks.
    var size: Int { get }
    /// Reduces `values` across the ranks and returns the result (the interpreter's form; blocking).
    func allReduce(_ values: [Double], _ operation: ReduceOperation, dtype: DType) throws -> [Double]
    /// Starts reducing `count` elements of `dtype` at `buffer` in place; the buffer must stay untouched until
    /// the request's `wait` returns.
    func startAllReduce(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType, _ operation: ReduceOperation) throws
        -> any CollectiveRequest
}

/// The ranks a graph's collectives reduce over: what a run's communicator must have.
public struct RankRequirement: Sendable {
    public let graphName: String, ranks: Int, opName: String

    /// Throws unless `communicator` has these ranks.
    public func check(_ communicator: any Communicator) throws(CollectiveError) {
        if ranks != communicator.size {
            throw CollectiveError("'\(graphName)' was built for \(ranks) ranks (its \(opName) nodes); this run has \(communicator.size)")
        }
    }
}

extension Graph {
    /// What this graph's collectives need of a communicator, or nil without collectives (any will do).
    /// A scan of the nodes: executables read it once, not per run.
    public var rankRequirement: RankRequirement? {
        nodes.first(where: { $0.op.traits.contains(.collective) }).map {
            RankRequirement(graphName: name, ranks: $0.attributes.int("ranks"), opName: $0.op.name)
        }
    }

    /// Throws unless `communicator` has the ranks this graph's collectives reduce over.
    public func checkRanks(of communicator: any Communicator) throws(CollectiveError) {
        try rankRequirement?.check(communicator)
    }
}

extension Communicator {
    /// Returns once every rank has called it (an all-reduce of nothing in particular).
    public func barrier() throws { _ = try allReduce([0], .sum, dtype: .f64) }
}

/// An error of a collective: a rank missing, a size mismatch, an MPI failure.
public struct CollectiveError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The communicator collectives use: the one a runtime installed for the process (MPI), or one set for the
/// current thread (a simulated rank in tests), else a single rank, where every all-reduce is the identity.
public enum Collectives {
    nonisolated(unsafe) private static var processCommunicator: (any Communicator)?
    private static let lock = NSLock()
    private static let threadKey = "munitc.communicator"

    /// The communicator for collectives issued on this thread.
    public static var current: any Communicator {
        if let own = Thread.current.threadDictionary[threadKey] as? any Communicator { return own }
        return lock.withLock { processCommunicator } ?? SingleRank.shared
    }

    /// Installs `communicator` for the whole process (nil: back to a single rank).
    public static func install(_ communicator: (any Communicator)?) {
        lock.withLock { processCommunicator = communicator }
    }

    /// Runs `body` with `communicator` as this thread's (a simulated rank).
    public static func withCommunicator<T>(_ communicator: any Communicator, _ body: () throws -> T) rethrows -> T {
        let dictionary = Thread.current.threadDictionary
        let previous = dictionary[threadKey]
        dictionary[threadKey] = communicator
        defer { dictionary[threadKey] = previous }
        return try body()
    }
}

/// One rank alone: every reduction returns its input.
public final class SingleRank: Communicator {
    public static let shared = SingleRank()
    public let rank = 0, size = 1

    public func allReduce(_ values: [Double], _ operation: ReduceOperation, dtype: DType) -> [Double] { values }

    public func startAllReduce(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType, _ operation: ReduceOperation)
        -> any CollectiveRequest { CompletedRequest() }
}

/// A request that was complete when it was made.
public final class CompletedRequest: CollectiveRequest {
    public init() {}
    public func wait() {}
}
