/// What to do about the kernel class a BLAS chose for itself, decided from the CPU's features alone (a pure
/// function, so every case is unit-tested although no single machine shows them all).
///
/// Why it exists: Debian 12's OpenBLAS 0.3.21 does not know newer Intel Xeons (family 6, model 207) and
/// silently runs its SSE3 "Prescott" kernels there, 4–5× slower than its AVX-512 "SkylakeX" ones.
public enum BLASCorePolicy {
    /// The decision: keep the BLAS's class, or switch to a named one; `reason` is for people.
    public struct Choice: Equatable, Sendable {
        public enum Action: Equatable, Sendable {
            case keep
            case switchTo(String)
        }
        public let action: Action
        public let reason: String
    }

    /// OpenBLAS's x86-64 core names (lower-cased) by the class of their single-precision kernels.
    static let openBLASCoreClasses: [String: VectorISA] = {
        var classes: [String: VectorISA] = [:]
        for name in ["katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn", "dunnington",
                     "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "bobcat"] { classes[name] = .sse }
        for name in ["sandybridge", "bulldozer", "piledriver", "steamroller", "excavator"] { classes[name] = .avx }
        for name in ["haswell", "zen"] { classes[name] = .avx2 }
        for name in ["skylakex", "cooperlake", "sapphirerapids"] { classes[name] = .avx512 }
        return classes
    }()

    /// The class of an OpenBLAS core name, or nil for a name munitc does not rank (another architecture,
    /// a newer OpenBLAS's new name).
    public static func vectorClass(ofOpenBLASCore name: String) -> VectorISA? {
        openBLASCoreClasses[name.lowercased()]
    }

    /// The OpenBLAS core whose kernels fit a class best; nil for SSE (nothing below it to correct).
    /// AMD's Zen cores run Haswell's kernels with blocking sizes tuned for their caches.
    public static func preferredOpenBLASCore(for isa: VectorISA, cpuName: String) -> String? {
        switch isa {
        case .avx512: "SkylakeX"
        case .avx2: cpuName.hasPrefix("znver") ? "Zen" : "Haswell"
        case .avx: "Sandybridge"
        case .sse: nil
        }
    }

    /// Decides from the CPU (LLVM's name and features), the class the BLAS detected, and
    /// `OPENBLAS_CORETYPE` if the user or the machine set it (always respected: some machines set it because
    /// older OpenBLAS builds crash on their CPUs).
    public static func decide(cpuName: String, features: Set<String>, detectedCore: String, environmentCore: String?) -> Choice {
        let cpu = VectorISA(features: features)
        if let requested = environmentCore, !requested.isEmpty {
            let below = vectorClass(ofOpenBLASCore: requested).map { $0 < cpu } ?? false
            return Choice(action: .keep, reason: "OPENBLAS_CORETYPE=\(requested) is set in the environment and respected"
                          + (below ? " (this CPU supports \(cpu) kernels; unset it to use them)" : ""))
        }
        guard let detected = vectorClass(ofOpenBLASCore: detectedCore) else {
            return Choice(action: .keep, reason: "OpenBLAS's kernel class '\(detectedCore)' is not one munitc ranks; kept as detected")
        }
        guard detected < cpu, let better = preferredOpenBLASCore(for: cpu, cpuName: cpuName) else {
            return Choice(action: .keep, reason: "detected by OpenBLAS (\(detected) kernels on a \(cpu) CPU)")
        }
        return Choice(action: .switchTo(better),
                      reason: "OpenBLAS detected \(detectedCore) (\(detected) kernels) on a \(cpu) CPU; switched to \(better)")
    }
}
