import ArgumentParser
import Foundation

@main
struct Munitc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "munitc",
        abstract: "A compiler that trains MUNIT through LLVM.",
        discussion: "Graphs are text files (.graph); weights and tensors are safetensors files.",
        subcommands: [Train.self, Translate.self, Dump.self, Run.self, Build.self, Bench.self, Gradcheck.self, Export.self, ReplayCommand.self])

    static func main() {
        shortenOpenBLASSpinning()
        main(nil)
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
