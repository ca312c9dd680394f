import Foundation
import LLVMBackend

/// What munitc runs on, as `munitc --version` and `munitc bench` report it: the CPU and its vector
/// features as LLVM sees them, the CPU kernels are generated for, the BLAS with its kernel class and where
/// that came from, and a measured GEMM rate against the nominal FMA peak.
struct MachineReport {
    let cpu: HostCPU
    let target: TargetCPU
    let blas: BLASRuntime.Status
    let threads: Int
    let gemmGFLOPS: Double
    let peakGFLOPS: Double?

    /// Measures the GEMM rate on `threads` threads (about 0.1 s).
    init(threads: Int, targetCPU: String? = nil) throws {
        cpu = HostCPU.current
        target = try CompileOptions(targetCPU: targetCPU).resolvedTargetCPU()
        blas = BLASRuntime.ensureCPUKernels()
        self.threads = threads
        gemmGFLOPS = BLASRuntime.measureGEMM(threads: threads)
        peakGFLOPS = cpu.peakGFLOPS(threads: threads)
    }

    private var coreNote: String {
        switch blas.source {
        case .detected: "detected"
        case .corrected: "corrected from \(blas.detectedCore)"
        case .environment: blas.reason
        }
    }

    private var peakText: String {
        guard let peakGFLOPS, let ghz = HostCPU.reportedGHz else { return "" }
        return String(format: ", %.0f%% of the %.0f GFLOP/s FMA peak (%d threads × %d lanes × 2 FMA × %.2f GHz)",
                      100 * gemmGFLOPS / peakGFLOPS, peakGFLOPS, threads, cpu.isa.floatLanes, ghz)
    }

    /// Lines for people.
    var lines: [String] {
        var lines = [
            "cpu: \(cpu.name) (\(cpu.isa)), \(threads) thread\(threads == 1 ? "" : "s")",
            "isa: \(cpu.vectorFeatures)",
            "kernels generated for: \(target)",
            "blas: \(blas.library), kernel class \(blas.core) (\(coreNote))",
            String(format: "gemm: %.1f GFLOP/s (sgemm 1024³)", gemmGFLOPS) + peakText,
        ]
        if let advice = blas.advice { lines.append("warning: \(advice)") }
        return lines
    }

    /// Fields for `bench --json`.
    var jsonFields: [String: Any] {
        var fields: [String: Any] = [
            "cpu": cpu.name, "isa": cpu.vectorFeatures, "vector_class": cpu.isa.description,
            "target_cpu": target.name, "target_vector_class": target.isa.description,
            "blas": blas.library, "blas_core": blas.core, "blas_core_detected": blas.detectedCore,
            "blas_core_source": blas.source.rawValue, "gemm_gflops": gemmGFLOPS,
        ]
        if let peakGFLOPS { fields["peak_gflops"] = peakGFLOPS }
        if let advice = blas.advice { fields["blas_advice"] = advice }
        return fields
    }
}
