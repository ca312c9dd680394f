import CMPI
import Foundation
import GraphIR

/// The ranks of a job started by `mpirun`, through MPI's C API (Open MPI): `MPIJob.startIfLaunched()`
/// initialises MPI when the launcher's environment says this process is one of several, and installs the
/// job's communicator for the collectives (`Collectives.install`). Without `mpirun` nothing happens and munitc
/// runs as one process.
public final class MPIJob: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Ranks on this machine (cores are shared among them).
    public let localSize: Int

    private init(rank: Int, size: Int, localSize: Int) {
        (self.rank, self.size, self.localSize) = (rank, size, localSize)
    }

    /// Whether a launcher started this process: the variables Open MPI's `mpirun`, PMIx and PMI set. The
    /// world size is read from MPI itself once initialised.
    static func isLaunched(_ environment: [String: String]) -> Bool {
        ["OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"].contains { environment[$0].flatMap(Int.init) != nil }
    }

    /// Initialises MPI if `mpirun` (or another PMI launcher) started this process and installs its
    /// communicator; returns nil when there is no launcher.
    public static func startIfLaunched(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MPIJob? {
        guard isLaunched(environment) else { return nil }
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, munitc_mpi_thread_serialized(), &provided), "MPI_Init_thread")
        // Errors come back as codes, so a failure becomes a message and an abort of the whole job rather
        // than a hang.
        try check(MPI_Comm_set_errhandler(munitc_mpi_comm_world(), munitc_mpi_errors_return()), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try check(MPI_Comm_rank(munitc_mpi_comm_world(), &rank), "MPI_Comm_rank")
        try check(MPI_Comm_size(munitc_mpi_comm_world(), &size), "MPI_Comm_size")
        let localSize = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? Int(size)
        let job = MPIJob(rank: Int(rank), size: Int(size), localSize: max(1, localSize))
        Collectives.install(job)
        return job
    }

    /// Ends MPI after a successful run (every rank calls it).
    public func finish() {
        Collectives.install(nil)
        MPI_Finalize()
    }

    /// Stops every rank of the job with `code` (after this rank failed); does not return.
    public func abort(code: Int32) -> Never {
        MPI_Abort(munitc_mpi_comm_world(), code)
        exit(code)
    }

    /// Threads for this rank's kernels: the machine's cores shared among the ranks on it.
    public var threadsPerRank: Int { max(1, ProcessInfo.processInfo.activeProcessorCount / localSize) }

    public func allReduce(_ values: [Double], _ operation: ReduceOperation, dtype: DType) throws -> [Double] {
        var buffer = values
        // Started and waited for while the array lends its storage: the pointer is valid only in here.
        try buffer.withUnsafeMutableBytes { raw in
            try startAllReduce(raw.baseAddress!, count: values.count, dtype: .f64, operation).wait()
        }
        return buffer.map(dtype.round)
    }

    public func startAllReduce(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType, _ operation: ReduceOperation) throws
        -> any CollectiveRequest {
        guard count <= Int(Int32.max) else {
            throw CollectiveError("an all-reduce of \(count) elements exceeds MPI's count limit; use smaller buckets")
        }
        let request = Request(buffer: buffer, count: count, dtype: dtype, scale: operation == .mean ? 1 / Double(size) : 1)
        try MPIJob.check(munitc_mpi_iallreduce_sum(buffer, Int32(count), dtype == .f32 ? munitc_mpi_float() : munitc_mpi_double(),
                                                   &request.handle), "MPI_Iallreduce")
        return request
    }

    /// A started `MPI_Iallreduce`; a mean is the sum scaled once it arrives.
    private final class Request: CollectiveRequest {
        var handle: MPI_Request?
        let buffer: UnsafeMutableRawPointer, count: Int, dtype: DType, scale: Double
        /// MPI has finished the transfer (seen by `progress` or `wait`).
        private var transferred = false
        private var finished = false

        init(buffer: UnsafeMutableRawPointer, count: Int, dtype: DType, scale: Double) {
            (self.buffer, self.count, self.dtype, self.scale) = (buffer, count, dtype, scale)
        }

        func wait() throws {
            guard !finished else { return }
            if !transferred { try MPIJob.check(munitc_mpi_wait(&handle), "MPI_Wait") }
            transferred = true
            finished = true
            guard scale != 1 else { return }
            if dtype == .f32 {
                let p = buffer.assumingMemoryBound(to: Float.self), factor = Float(scale)
                for i in 0..<count { p[i] *= factor }
            } else {
                let p = buffer.assumingMemoryBound(to: Double.self)
                for i in 0..<count { p[i] *= scale }
            }
        }

        func progress() {
            guard !transferred else { return }
            var flag: Int32 = 0
            // An error here shows again, with its message, in `wait`'s MPI_Wait.
            if munitc_mpi_test(&handle, &flag) == MPI_SUCCESS, flag != 0 { transferred = true }
        }
    }

    static func check(_ code: Int32, _ call: String) throws {
        guard code != MPI_SUCCESS else { return }
        var message = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &message, &length)
        throw CollectiveError("\(call) failed: \(String(cString: message))")
    }
}
