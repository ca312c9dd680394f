import Dispatch
import Foundation
import GraphIR

/// Runs a schedule's collectives through `Collectives.current`: each is started once the kernels computing
/// its operands have run and waited for just before the first kernel that reads its results, so the kernels
/// in between (the rest of the backward pass) overlap the communication. Several operands (a bucket of
/// gradients) are packed into one message.
final class CollectiveRuntime {
    private let collectives: [ScheduledCollective]
    /// Per collective, its message: the operands packed one after another, reduced in place.
    private let staging: [UnsafeMutableRawPointer]
    private let startingBefore: [Int: [Int]]
    private let waitingBefore: [Int: [Int]]
    private var pending: [Int: any CollectiveRequest] = [:]
    /// Seconds spent waiting for collectives in the last run: the communication the kernels did not hide.
    private(set) var lastWaitSeconds = 0.0

    init(_ collectives: [ScheduledCollective]) {
        self.collectives = collectives
        staging = collectives.map { c in
            let bytes = c.types.reduce(0) { $0 + $1.byteCount }
            return UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        }
        startingBefore = Dictionary(grouping: collectives.indices, by: { collectives[$0].startBefore })
        waitingBefore = Dictionary(grouping: collectives.indices, by: { collectives[$0].waitBefore })
    }

    deinit { for buffer in staging { buffer.deallocate() } }

    var isEmpty: Bool { collectives.isEmpty }

    /// Starts and waits for what is due before call `index` (`index` = the number of calls: the end of the run).
    func beforeCall(_ index: Int, _ communicator: any Communicator, resolve: (MemoryPlan.Location) -> UnsafeMutableRawPointer)
        throws(BackendError) {
        if index == 0 { lastWaitSeconds = 0 }
        for c in startingBefore[index] ?? [] {
            for earlier in collectives[c].after { try finish(earlier, resolve) }
            try start(c, communicator, resolve)
        }
        for c in waitingBefore[index] ?? [] { try finish(c, resolve) }
    }

    /// Lets started collectives advance while kernels run (MPI moves a non-blocking collective on only when
    /// called).
    func progress() {
        for request in pending.values { request.progress() }
    }

    private func start(_ c: Int, _ communicator: any Communicator, _ resolve: (MemoryPlan.Location) -> UnsafeMutableRawPointer)
        throws(BackendError) {
        let collective = collectives[c]
        var offset = 0
        for (location, type) in zip(collective.operands, collective.types) {
            (staging[c] + offset).copyMemory(from: resolve(location), byteCount: type.byteCount)
            offset += type.byteCount
        }
        let dtype = collective.types[0].dtype
        do {
            pending[c] = try communicator.startAllReduce(staging[c], count: offset / dtype.byteWidth, dtype: dtype, collective.operation)
        } catch {
            throw BackendError("all_reduce of node \(collective.node) failed on rank \(communicator.rank): \(error)")
        }
    }

    private func finish(_ c: Int, _ resolve: (MemoryPlan.Location) -> UnsafeMutableRawPointer) throws(BackendError) {
        guard let request = pending.removeValue(forKey: c) else { return }
        let started = DispatchTime.now().uptimeNanoseconds
        do { try request.wait() } catch {
            throw BackendError("all_reduce of node \(collectives[c].node) failed: \(error)")
        }
        lastWaitSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        var offset = 0
        for (location, type) in zip(collectives[c].results, collectives[c].types) {
            resolve(location).copyMemory(from: staging[c] + offset, byteCount: type.byteCount)
            offset += type.byteCount
        }
    }
}
