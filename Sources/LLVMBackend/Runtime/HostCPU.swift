internal import CLLVM
import Foundation

/// The CPU this process runs on, as LLVM sees it: its name (`sapphirerapids`, `znver3`, …) and the
/// features the CPU and the operating system both enable.
public struct HostCPU: Sendable {
    /// LLVM's name for the CPU.
    public let name: String
    /// LLVM's feature string for it (`+avx2,-avx512f,…`), as given to the code generator.
    public let featureString: String
    /// The enabled features, without the `+`.
    public let features: Set<String>

    /// The CPU this process runs on.
    public static let current: HostCPU = {
        LLVMInitializeNativeTarget()
        let name = llvmString(LLVMGetHostCPUName())
        let featureString = llvmString(LLVMGetHostCPUFeatures())
        return HostCPU(name: name, featureString: featureString)
    }()

    init(name: String, featureString: String) {
        self.name = name
        self.featureString = featureString
        features = Set(featureString.split(separator: ",").filter { $0.hasPrefix("+") }.map { String($0.dropFirst()) })
    }

    /// The CPU's vector class.
    public var isa: VectorISA { VectorISA(features: features) }

    /// The vector features worth naming, e.g. `avx512f,avx512bw,avx512vl,avx512dq,…,avx2,fma`.
    public var vectorFeatures: String {
        VectorISA.reportedFeatures.filter(features.contains).joined(separator: ",")
    }

    /// The clock /proc/cpuinfo reports (the base clock under most hypervisors), in GHz; nil where unknown.
    public static let reportedGHz: Double? = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("cpu MHz") {
            if let value = line.split(separator: ":").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) {
                return value / 1000
            }
        }
        return nil
    }()

    /// The nominal float32 FMA peak of `threads` cores in GFLOP/s: two FMA pipes per core (every x86-64 core
    /// with AVX2 or AVX-512 since Haswell and Zen 2) × lanes × 2 FLOPs × the reported clock. Turbo clocks
    /// can make a measured rate exceed it; it is a yardstick, not a promise.
    public func peakGFLOPS(threads: Int) -> Double? {
        guard let ghz = HostCPU.reportedGHz else { return nil }
        return Double(threads * 2 * isa.floatLanes * 2) * ghz
    }
}

/// A string LLVM allocated for the caller, copied and disposed of.
func llvmString(_ raw: UnsafeMutablePointer<CChar>?) -> String {
    defer { LLVMDisposeMessage(raw) }
    return raw.map { String(cString: $0) } ?? ""
}
