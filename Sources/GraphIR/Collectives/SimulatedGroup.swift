import Foundation

/// N ranks inside one process, one thread each: what tests use in place of MPI to run a data-parallel graph
/// on the interpreter or the compiled backend (`Collectives.withCommunicator(group.rank(r)) { … }` on
/// thread r). Reductions add the ranks' values in rank order, in Double, so results are deterministic.
public final class SimulatedGroup: @unchecked Sendable {
    public let size: Int
    /// How long a rank waits for the others before reporting them missing.
    public let timeout: TimeInterval
    private let condition = NSCondition()
    /// Contributions of each collective (by its sequence number), by rank.
    private var contributions: [Int: [[Double]?]] = [:]
    /// Sequence numbers of the collectives each rank has finished reading, to free their contributions.
    private var finished: [Int: Int] = [:]
    private var nextSequence: [Int]

    public init(size: Int, timeout: TimeInterval = 60) {
        precondition(size >= 1, "a group needs at least one rank")
        self.size = size
        self.timeout = timeout
        nextSequence = Array(repeating: 0, count: size)
    }

    /// The communicator of rank `r`.
    public func rank(_ r: Int) -> any Communicator { Member(group: self, rank: r) }

    /// Runs `body(rank)` on `size` threads at once, each with its rank's communicator installed, and returns
    /// the results by rank; rethrows the first error.
    public func run<T>(_ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        // Threads of their own: a dispatch queue may run fewer ranks at once than there are, and a rank waiting
        // in a collective for one that never started would wait forever.
        let results = UnsafeSendableBox([Result<T, Error>?](repeating: nil, count: size))
        let lock = NSLock(), done = DispatchGroup()
        for r in 0..<size {
            done.enter()
            let thread = Thread { [self] in
                let result = Result { try Collectives.withCommunicator(self.rank(r)) { try body(r) } }
                lock.withLock { results.value[r] = result }
                done.leave()
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        done.wait()
        return try results.value.map { try $0!.get() }
    }

    fileprivate func contribute(_ values: [Double], rank: Int) -> Int {
        condition.lock()
        defer { condition.unlock() }
        let sequence = nextSequence[rank]
        nextSequence[rank] += 1
        var slots = contributions[sequence] ?? Array(repeating: nil, count: size)
        slots[rank] = values
        contributions[sequence] = slots
        condition.broadcast()
        return sequence
    }

    fileprivate func result(of sequence: Int, rank: Int, _ operation: ReduceOperation, dtype: DType) throws -> [Double] {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while (contributions[sequence] ?? []).contains(where: { $0 == nil }) {
            if !condition.wait(until: deadline) {
                let missing = (contributions[sequence] ?? []).indices.filter { contributions[sequence]?[$0] == nil }
                throw CollectiveError("rank \(rank) waited \(Int(timeout)) s in all-reduce #\(sequence) for rank(s) \(missing)")
            }
        }
        let slots = contributions[sequence]!.map { $0! }
        guard Set(slots.map(\.count)).count == 1 else {
            throw CollectiveError("all-reduce #\(sequence): the ranks contributed \(slots.map(\.count)) elements")
        }
        var sums = slots[0]
        for other in slots.dropFirst() { for i in sums.indices { sums[i] += other[i] } }
        finished[sequence, default: 0] += 1
        if finished[sequence] == size { contributions[sequence] = nil; finished[sequence] = nil }
        let scale = operation == .mean ? 1 / Double(size) : 1
        return sums.map { dtype.round($0 * scale) }
    }

    private final class Member: Communicator, @unchecked Sendable {
        let group: SimulatedGroup, rank: Int
        var size: Int { group.size }
        init(group: SimulatedGroup, rank: Int) { (self.group, self.rank) = (group, rank) }

        func allReduce(_ values: [Double], _ operation: ReduceOperation, dtype: DType) throws -> [Double] {
            try group.result(of: group.contribute(values, rank: rank), rank: rank, operation, dtype: dtype)
        }

        func startAllReduce(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType, _ operation: ReduceOperation)
            throws -> any CollectiveRequest {
            let values: [Double] = dtype == .f32
                ? UnsafeBufferPointer(start: buffer.assumingMemoryBound(to: Float.self), count: count).map(Double.init)
                : Array(UnsafeBufferPointer(start: buffer.assumingMemoryBound(to: Double.self), count: count))
            let sequence = group.contribute(values, rank: rank)
            return Request { [group, rank] in
                let reduced = try group.result(of: sequence, rank: rank, operation, dtype: dtype)
                for (i, v) in reduced.enumerated() {
                    if dtype == .f32 { buffer.storeBytes(of: Float(v), toByteOffset: i * 4, as: Float.self) }
                    else { buffer.storeBytes(of: v, toByteOffset: i * 8, as: Double.self) }
                }
            }
        }
    }

    private final class Request: CollectiveRequest {
        private var complete: (() throws -> Void)?
        init(_ complete: @escaping () throws -> Void) { self.complete = complete }
        func wait() throws {
            guard let complete else { return }
            self.complete = nil
            try complete()
        }
    }
}

/// A box for results written by concurrent iterations, each to its own slot under a lock.
private final class UnsafeSendableBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
