import Foundation
import LLVMBackend

/// Executables run in order as one iteration, with outputs copied into arguments between them.
struct BenchJob {
    var title: String
    var threads: Int
    /// The ranks of the data-parallel job running it (each rank runs its share of the batch).
    var ranks = 1
    var executables: [Executable]
    /// (from executable, output, to executable, argument) copies after each executable runs.
    var feedback: [(Int, String, Int, String)]
    var graphSeconds = 0.0
    /// The machine it ran on, reported with the timings.
    var machine: MachineReport?

    struct KernelTime {
        var symbol: String
        var calls = 0
        var seconds = 0.0
        var flops = 0
        var bytes = 0
    }

    struct Result {
        var job: BenchJob
        var seconds: [Double]
        var kernels: [KernelTime]
        /// Per iteration, the seconds spent waiting for all-reduces (0 on one rank).
        var communicationWaits: [Double] = []
        var median: Double { seconds.sorted()[seconds.count / 2] }
        /// The median exposed (not overlapped) communication per iteration.
        var exposedCommunication: Double { communicationWaits.isEmpty ? 0 : communicationWaits.sorted()[communicationWaits.count / 2] }
        var flops: Int { job.executables.reduce(0) { $0 + $1.report.flops } }
        var compileSeconds: Double { job.executables.reduce(0) { $0 + $1.report.compileSeconds } }
        var kernelSeconds: Double { kernels.reduce(0) { $0 + $1.seconds } }
    }

    func runOnce() throws {
        for (index, executable) in executables.enumerated() {
            try executable.execute()
            for (from, output, to, argument) in feedback where from == index {
                try executable.copyOutput(output, to: executables[to], argument: argument)
            }
        }
    }

    /// Runs each executable of `a` and `b` once (no feedback) from their bound arguments and returns the
    /// largest relative difference |a − b| / (1 + |b|) over every output of every graph, and where.
    static func worstDifference(_ a: BenchJob, _ b: BenchJob) throws -> (difference: Double, output: String) {
        var worst = (difference: 0.0, output: "")
        for (x, y) in zip(a.executables, b.executables) {
            try x.execute()
            try y.execute()
            for output in y.graph.outputs {
                let (p, q) = (try x.output(output.name).scalars, try y.output(output.name).scalars)
                for (u, v) in zip(p, q) {
                    let difference = u.isNaN != v.isNaN ? .infinity : Swift.abs(u - v) / (1 + Swift.abs(v))
                    if difference > worst.difference { worst = (difference, "\(y.graph.name)/\(output.name)") }
                }
            }
        }
        return worst
    }

    /// Fused and unfused kernels sum in different orders; over a whole MUNIT step float32 rounding stays
    /// below 1e-3 relative (measured ≤ 6.7e-4). Ten times that leaves room for other configs' larger sums;
    /// a wrong kernel differs by O(1).
    static let agreementTolerance = 1e-2

    /// One warm-up iteration, then `iterations` timed ones with per-kernel profiling.
    func measure(iterations: Int) throws -> Result {
        try BenchJob.measure([self], iterations: iterations)[0]
    }

    /// Times the jobs' iterations interleaved (a b a b …, after one warm-up each), so a slow spell of the
    /// shared machine hits every job alike and their ratio stays meaningful.
    static func measure(_ jobs: [BenchJob], iterations: Int) throws -> [Result] {
        for job in jobs {
            try job.runOnce()
            for e in job.executables { e.profiling = true }
        }
        var seconds = [[Double]](repeating: [], count: jobs.count)
        var waits = [[Double]](repeating: [], count: jobs.count)
        var kernels = [[String: KernelTime]](repeating: [:], count: jobs.count)
        for _ in 0..<iterations {
            for (j, job) in jobs.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                try job.runOnce()
                seconds[j].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                waits[j].append(job.executables.reduce(0) { $0 + $1.lastCommunicationWaitSeconds })
                for e in job.executables {
                    for (call, time) in zip(e.kernelCalls, e.lastTimes) {
                        var k = kernels[j][call.symbol] ?? KernelTime(symbol: call.symbol)
                        k.calls += 1
                        k.seconds += time
                        k.flops += call.flops
                        k.bytes += call.bytes
                        kernels[j][call.symbol] = k
                    }
                }
            }
        }
        return jobs.enumerated().map { j, job in
            for e in job.executables { e.profiling = false }
            let perIteration = kernels[j].values.map { k in
                KernelTime(symbol: k.symbol, calls: k.calls / iterations, seconds: k.seconds / Double(iterations),
                           flops: k.flops / iterations, bytes: k.bytes / iterations)
            }
            return Result(job: job, seconds: seconds[j], kernels: perIteration.sorted { $0.seconds > $1.seconds },
                          communicationWaits: waits[j])
        }
    }
}

extension BenchJob.Result {
    func text(top: Int) -> String {
        var lines = ["bench: \(job.title), \(job.threads) thread\(job.threads == 1 ? "" : "s")"]
        lines += (job.machine?.lines ?? []).map { "  " + $0 }
        for e in job.executables {
            let r = e.report
            let stages = r.stageSeconds.map { String(format: "%@ %.2f", $0.stage, $0.seconds) }.joined(separator: ", ")
            lines.append(String(format: "  compiled %@: %d nodes -> %d kernels (%d deduplicated) in %.2f s (%@), arena %.1f MB",
                                e.graph.name, r.nodes, r.kernels, r.deduplicated, r.compileSeconds, stages, Double(r.arenaBytes) / 1e6))
        }
        lines.append("  iterations: " + seconds.map { String(format: "%.4g", $0) }.joined(separator: " ") + " s")
        let cached = job.executables.contains { $0.report.fromCache } ? " (objects from the cache; MUNITC_CACHE_DIR=off for a cold compile)" : ""
        lines.append(String(format: "  median %.4g s per iteration; %.4g GFLOP per iteration -> %.1f GFLOP/s; compile %.2f s",
                            median, Double(flops) / 1e9, Double(flops) / 1e9 / median, compileSeconds) + cached)
        if job.ranks > 1 {
            lines.append(String(format: "  data-parallel over %d ranks (this rank's share of the batch): exposed communication %.4g s "
                                + "per iteration (%.1f%%)", job.ranks, exposedCommunication, 100 * exposedCommunication / median))
        }
        return (lines + kernelTable(top: top, title: "top kernels")).joined(separator: "\n")
    }

    /// The `top` kernels by time: calls, milliseconds, achieved GFLOP/s and GB/s, share of the kernel time.
    func kernelTable(top: Int, title: String) -> [String] {
        var lines = [String(format: "  %@ (of %.3f s in kernels per iteration):", title, kernelSeconds)]
        // Names in full (phase suffixes are at their ends): the column is as wide as the longest shown.
        let width = max(58, kernels.prefix(top).map(\.symbol.count).max() ?? 0)
        lines.append("    " + "kernel".padding(toLength: width, withPad: " ", startingAt: 0) + "  calls        ms  GFLOP/s    GB/s  share")
        for k in kernels.prefix(top) {
            lines.append(String(format: "    %@ %6d %9.2f %8.1f %7.1f %5.1f%%", k.symbol.padding(toLength: width, withPad: " ", startingAt: 0),
                                k.calls, k.seconds * 1000, k.seconds > 0 ? Double(k.flops) / k.seconds / 1e9 : 0,
                                k.seconds > 0 ? Double(k.bytes) / k.seconds / 1e9 : 0, 100 * k.seconds / max(kernelSeconds, 1e-12)))
        }
        return lines
    }

    /// The fused-against-unfused part of `--compare-unfused`: the unfused build's kernel table, then the totals
    /// side by side and the speedup.
    func comparison(unfused: BenchJob.Result, agreement: Double, top: Int) -> String {
        let kernels = { (r: BenchJob.Result) in r.job.executables.reduce(0) { $0 + $1.report.kernels } }
        let calls = { (r: BenchJob.Result) in r.kernels.reduce(0) { $0 + $1.calls } }
        return (unfused.kernelTable(top: top, title: "unfused top kernels") + [
            String(format: "  totals, fused vs unfused: median %.3f vs %.3f s per iteration, %.3f vs %.3f s in kernels, "
                   + "%d vs %d kernels, %d vs %d calls", median, unfused.median, kernelSeconds, unfused.kernelSeconds,
                   kernels(self), kernels(unfused), calls(self), calls(unfused)),
            String(format: "  speedup %.2fx; outputs agree to %.2g (worst relative difference)", unfused.median / median, agreement),
        ]).joined(separator: "\n")
    }

    func json(top: Int, unfused: BenchJob.Result? = nil, agreement: Double? = nil) -> String {
        var object: [String: Any] = [
            "title": job.title,
            "threads": job.threads,
            "ranks": job.ranks,
            "exposed_comm_seconds": exposedCommunication,
            "median_seconds": median,
            "iteration_seconds": seconds,
            "gflop_per_iteration": Double(flops) / 1e9,
            "gflops": Double(flops) / 1e9 / median,
            "compile_seconds": compileSeconds,
            "compile_cached": job.executables.contains { $0.report.fromCache },
            "graph_build_seconds": job.graphSeconds,
            "arena_bytes": job.executables.reduce(0) { $0 + $1.report.arenaBytes },
            "top_kernels": kernels.prefix(top).map { ["kernel": $0.symbol, "calls": $0.calls, "seconds": $0.seconds] },
        ]
        object.merge(job.machine?.jsonFields ?? [:]) { current, _ in current }
        if let unfused {
            object["unfused_median_seconds"] = unfused.median
            object["speedup"] = unfused.median / median
            object["worst_difference"] = agreement ?? 0
            object["unfused_top_kernels"] = unfused.kernels.prefix(top).map { ["kernel": $0.symbol, "calls": $0.calls, "seconds": $0.seconds] }
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
