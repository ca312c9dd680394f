/// The x86-64 vector instruction-set classes that decide which kernels a CPU can run, weakest first.
/// Both the BLAS kernel check and the code-generation target speak in these classes.
public enum VectorISA: Int, Comparable, Sendable, CaseIterable, CustomStringConvertible {
    case sse = 1, avx, avx2, avx512

    public static func < (a: VectorISA, b: VectorISA) -> Bool { a.rawValue < b.rawValue }

    /// The class of a CPU with these LLVM feature names (without the leading `+`, e.g. `avx512f`).
    /// AVX-512 counts only with the F/BW/VL/DQ subsets that BLAS kernels and LLVM's x86-64-v4 assume.
    public init(features: Set<String>) {
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(features.contains) { self = .avx512 }
        else if features.contains("avx2") && features.contains("fma") { self = .avx2 }
        else if features.contains("avx") { self = .avx }
        else { self = .sse }
    }

    public var description: String {
        switch self {
        case .sse: "SSE"
        case .avx: "AVX"
        case .avx2: "AVX2+FMA"
        case .avx512: "AVX-512"
        }
    }

    /// float32 lanes in one vector register of the class.
    public var floatLanes: Int {
        switch self {
        case .sse: 4
        case .avx, .avx2: 8
        case .avx512: 16
        }
    }

    /// Vector registers the class's code can use (16 ymm/xmm, 32 zmm).
    public var vectorRegisters: Int { self >= .avx512 ? 32 : 16 }

    /// The vector features worth naming in reports, in a fixed order (`avx512f,avx512bw,…` or `avx2,fma`).
    static let reportedFeatures = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512vnni",
                                   "avx512bf16", "avx512fp16", "avx2", "fma", "avx", "sse4.2"]
}
