import Foundation

/// The CPU that generated kernels are compiled for: the host by default, or a named x86-64 CPU of a class
/// the host can run (`MUNITC_TARGET_CPU=haswell`, `--target-cpu haswell`), so one AVX-512 machine can run
/// and test the AVX2 code path too.
public struct TargetCPU: Sendable, Equatable, CustomStringConvertible {
    /// LLVM's CPU name.
    public let name: String
    /// LLVM's feature string given with the name. For a named CPU: every feature the host lacks, switched
    /// off, so the code never uses an instruction the host cannot run whatever the name implies.
    public let featureString: String
    /// The vector class the code is generated for.
    public let isa: VectorISA
    /// True unless a CPU was named.
    public let isHost: Bool

    /// The environment variable that names a target CPU for every compile of the process.
    public static let environmentVariable = "MUNITC_TARGET_CPU"

    /// The host.
    public static var host: TargetCPU {
        let cpu = HostCPU.current
        return TargetCPU(name: cpu.name, featureString: cpu.featureString, isa: cpu.isa, isHost: true)
    }

    /// The CPUs that may be named, by vector class (LLVM's names).
    public static let namedCPUs: [String: VectorISA] = [
        "x86-64": .sse, "x86-64-v2": .sse, "nehalem": .sse, "westmere": .sse,
        "sandybridge": .avx, "ivybridge": .avx,
        "x86-64-v3": .avx2, "haswell": .avx2, "broadwell": .avx2, "skylake": .avx2,
        "x86-64-v4": .avx512, "skylake-avx512": .avx512, "cascadelake": .avx512, "icelake-server": .avx512,
        "sapphirerapids": .avx512,
    ]

    /// `name` as a target on `host` (`host` or `native` mean the host itself). Throws for a name munitc does
    /// not know or a class the host cannot run.
    public static func named(_ name: String, on host: HostCPU = .current) throws(BackendError) -> TargetCPU {
        let key = name.lowercased()
        if key == "host" || key == "native" || key == host.name {
            return TargetCPU(name: host.name, featureString: host.featureString, isa: host.isa, isHost: true)
        }
        guard let isa = namedCPUs[key] else {
            throw BackendError("unknown target CPU '\(name)'; use host or one of: \(namedCPUs.keys.sorted().joined(separator: ", "))")
        }
        guard isa <= host.isa else {
            throw BackendError("target CPU '\(name)' needs \(isa) instructions, which this CPU (\(host.name), \(host.isa)) cannot run")
        }
        let missing = host.featureString.split(separator: ",").filter { $0.hasPrefix("-") }.joined(separator: ",")
        return TargetCPU(name: key, featureString: missing, isa: isa, isHost: false)
    }

    /// The target `MUNITC_TARGET_CPU` names, or the host when it is unset or empty.
    public static func fromEnvironment() throws(BackendError) -> TargetCPU {
        guard let name = ProcessInfo.processInfo.environment[environmentVariable], !name.isEmpty else { return host }
        do { return try named(name) } catch { throw BackendError("\(environmentVariable): \(error.message)") }
    }

    public var description: String { isHost ? "\(name) (host, \(isa))" : "\(name) (\(isa))" }
}
