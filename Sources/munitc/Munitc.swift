import ArgumentParser
import Distributed
import Foundation
import LLVMBackend

@main
struct Munitc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "munitc",
        abstract: "A compiler that trains MUNIT through LLVM.",
        discussion: "Graphs are text files (.graph); weights and tensors are safetensors files.",
        subcommands: [Train.self, Translate.self, Import.self, Dump.self, Run.self, Build.self, Bench.self, Gradcheck.self, Export.self, ReplayCommand.self])

    /// munitc's release.
    static let version = "0.2.0"

    static func main() {
        shortenOpenBLASSpinning()
        if CommandLine.arguments.dropFirst().first == "--version" {
            printVersion()
            return
        }
        // A BLAS left on kernels below the CPU's class would make every command several times slower.
        if let advice = BLASRuntime.ensureCPUKernels().advice {
            FileHandle.standardError.write(Data("munitc: warning: \(advice)\n".utf8))
        }
        do { job = try MPIJob.startIfLaunched() } catch {
            FileHandle.standardError.write(Data("munitc: cannot join the MPI job: \(error)\n".utf8))
            Foundation.exit(1)
        }
        guard let job else { return main(nil) }
        // One of several ranks: a failure here must stop the others (which would wait for it in their next
        // all-reduce), and success ends MPI on every rank.
        do {
            var command = try parseAsRoot(nil)
            try command.run()
            job.finish()
        } catch {
            let code = exitCode(for: error)
            if code == .success { job.finish(); exit(withError: error) }
            FileHandle.standardError.write(Data("munitc (rank \(job.rank) of \(job.size)): \(fullMessage(for: error))\n".utf8))
            job.abort(code: code.rawValue)
        }
    }

    /// The MPI job this process is a rank of, when `mpirun` started it.
    nonisolated(unsafe) static var job: MPIJob?

    /// `munitc --version`: the release, LLVM, and what this machine runs (the CPU and vector features as LLVM
    /// sees them, the BLAS and its kernel class, a measured GEMM rate against the FMA peak).
    static func printVersion() {
        print("munitc \(version) (LLVM \(BackendInfo.llvmVersion))")
        do {
            let machine = try MachineReport(threads: ProcessInfo.processInfo.activeProcessorCount)
            for line in machine.lines { print(line) }
        } catch {
            FileHandle.standardError.write(Data("munitc: \(error)\n".utf8))
            Foundation.exit(1)
        }
    }

    /// OpenBLAS's idle workers spin (yielding) for about 2^28 cycles after each GEMM, on the same cores the
    /// generated kernels' threads then need; 2^4 makes them sleep at once (measured: 1–4% faster MUNIT
    /// iterations in 6 alternating pairs of 5-iteration benches). OpenBLAS reads `OPENBLAS_THREAD_TIMEOUT`
    /// when it is loaded, before `main`, so munitc sets it and re-executes itself once; a value the user set
    /// is left alone.
    static func shortenOpenBLASSpinning() {
        #if os(Linux)
        guard getenv("OPENBLAS_THREAD_TIMEOUT") == nil, let executable = realpath("/proc/self/exe", nil) else { return }
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
        execv(executable, CommandLine.unsafeArgv)
        // execv returns only on failure: carry on in this process with OpenBLAS's default.
        free(executable)
        #endif
    }
}
