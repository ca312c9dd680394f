internal import COpenBLAS
import Foundation

/// The BLAS this process runs its GEMMs on, checked against the CPU once per process: a kernel class below
/// what the CPU supports (OpenBLAS's run-time detection falling back on a CPU it does not know) is corrected
/// in place, before the first GEMM, unless `OPENBLAS_CORETYPE` asks for a class on purpose.
///
/// Every `Executable` runs the check before it is built, so the CLI, the tests and a library user of
/// `Training` get it alike; `munitc --version` and `munitc bench` report the outcome.
public enum BLASRuntime {
    /// Where the kernel class in use came from.
    public enum CoreSource: String, Sendable {
        /// OpenBLAS's own detection, which munitc found right.
        case detected
        /// Corrected by munitc from the CPU's features.
        case corrected
        /// `OPENBLAS_CORETYPE`, set by the user or the machine.
        case environment
    }

    /// The outcome of the check.
    public struct Status: Sendable {
        /// The library and its version, e.g. `OpenBLAS 0.3.21`.
        public let library: String
        /// OpenBLAS's build configuration string (as it reads after the check).
        public let configuration: String
        /// The kernel class OpenBLAS picked by itself.
        public let detectedCore: String
        /// The kernel class in use (OpenBLAS's own name: `SkylakeX`, `Haswell`, `Zen`, …).
        public let core: String
        public let source: CoreSource
        /// What the policy decided and why.
        public let reason: String
        /// Set where munitc could not act and the user can: what to do.
        public let advice: String?
    }

    /// The check's outcome; the first use runs it (once per process, before any GEMM).
    public static var status: Status { checked }

    /// Runs the check if it has not run yet; call it before the first BLAS call of a program that uses
    /// OpenBLAS outside an `Executable`.
    @discardableResult
    public static func ensureCPUKernels() -> Status { checked }

    private static let checked: Status = {
        let cpu = HostCPU.current
        let detected = currentCore()
        let environment = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        let choice = BLASCorePolicy.decide(cpuName: cpu.name, features: cpu.features, detectedCore: detected,
                                           environmentCore: environment)
        var source: CoreSource = environment?.isEmpty == false ? .environment : .detected
        var advice: String?
        if case .switchTo(let core) = choice.action {
            if switchCore(to: core), BLASCorePolicy.vectorClass(ofOpenBLASCore: currentCore()) ?? .sse >= cpu.isa {
                source = .corrected
            } else {
                advice = "OpenBLAS runs \(currentCore()) kernels although this CPU supports \(cpu.isa) ones and munitc could not switch "
                    + "it in place (not a DYNAMIC_ARCH build, or one without \(core) kernels): run with OPENBLAS_CORETYPE=\(core), "
                    + "or install an OpenBLAS built for this CPU"
            }
        }
        return Status(library: libraryName(), configuration: configuration(), detectedCore: detected, core: currentCore(),
                      source: source, reason: choice.reason, advice: advice)
    }()

    /// Re-runs OpenBLAS's dynamic-architecture initialisation with `OPENBLAS_CORETYPE` naming `core`, then
    /// restores the environment (child processes make their own decision). Safe only before any GEMM runs,
    /// which `checked`'s once-only initialisation guarantees for munitc's own calls.
    private static func switchCore(to core: String) -> Bool {
        typealias Hook = @convention(c) () -> Void
        guard let process = dlopen(nil, RTLD_NOW),
              let quit = dlsym(process, "gotoblas_dynamic_quit"), let initialize = dlsym(process, "gotoblas_dynamic_init")
        else { return false }
        let previous = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
        setenv("OPENBLAS_CORETYPE", core, 1)
        unsafeBitCast(quit, to: Hook.self)()
        unsafeBitCast(initialize, to: Hook.self)()
        if let previous { setenv("OPENBLAS_CORETYPE", previous, 1) } else { unsetenv("OPENBLAS_CORETYPE") }
        return currentCore().caseInsensitiveCompare(core) == .orderedSame
    }

    private static func currentCore() -> String {
        openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }

    private static func configuration() -> String {
        openblas_get_config().map { String(cString: $0) } ?? "unknown"
    }

    /// `OpenBLAS 0.3.21` from the configuration string's first two words.
    private static func libraryName() -> String {
        configuration().split(separator: " ").prefix(2).joined(separator: " ")
    }

    /// Threads OpenBLAS uses now.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Measures sgemm on `threads` threads (square `size`³ products, best of `repeats` after a warm-up), in
    /// GFLOP/s: the rate the BLAS really reaches here, to set against the CPU's nominal peak.
    public static func measureGEMM(threads: Int, size: Int = 1024, repeats: Int = 3) -> Double {
        ensureCPUKernels()
        let previousThreads = openblas_get_num_threads()
        openblas_set_num_threads(Int32(threads))
        defer { openblas_set_num_threads(previousThreads) }
        let count = size * size
        let a = [Float](repeating: 0.5, count: count), b = [Float](repeating: 0.25, count: count)
        var c = [Float](repeating: 0, count: count)
        let n = Int32(size)
        func product() { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, &c, n) }
        product()
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            product()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return 2 * Double(size) * Double(size) * Double(size) / best / 1e9
    }
}
