import Testing
@testable import LLVMBackend

/// The BLAS kernel-class decision over the cases no single machine shows: CPUs of each class, OpenBLAS's
/// detection right, below and unknown, and a class set on purpose.
struct BLASCorePolicyTests {
    static let avx512: Set<String> = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx2", "fma", "avx", "sse4.2"]
    static let avx2: Set<String> = ["avx2", "fma", "avx", "sse4.2"]
    static let avx: Set<String> = ["avx", "sse4.2"]
    static let sse: Set<String> = ["sse4.2"]

    @Test func cpuClassesFollowTheirFeatures() {
        #expect(VectorISA(features: Self.avx512) == .avx512)
        // AVX-512 F alone (Knights Landing-like) is not the F/BW/VL/DQ class BLAS kernels assume.
        #expect(VectorISA(features: Self.avx2.union(["avx512f"])) == .avx2)
        #expect(VectorISA(features: Self.avx2) == .avx2)
        #expect(VectorISA(features: ["avx2", "avx"]) == .avx)
        #expect(VectorISA(features: Self.avx) == .avx)
        #expect(VectorISA(features: Self.sse) == .sse)
    }

    @Test func aNewXeonDetectedAsPrescottSwitchesToSkylakeX() {
        let choice = BLASCorePolicy.decide(cpuName: "sapphirerapids", features: Self.avx512, detectedCore: "Prescott", environmentCore: nil)
        #expect(choice.action == .switchTo("SkylakeX"))
        #expect(choice.reason.contains("Prescott"))
    }

    @Test func anAVX2MachineDetectedTooLowGetsHaswellOrZen() {
        #expect(BLASCorePolicy.decide(cpuName: "alderlake", features: Self.avx2, detectedCore: "Sandybridge", environmentCore: nil).action
                == .switchTo("Haswell"))
        #expect(BLASCorePolicy.decide(cpuName: "znver4", features: Self.avx2, detectedCore: "Prescott", environmentCore: nil).action
                == .switchTo("Zen"))
        #expect(BLASCorePolicy.decide(cpuName: "sandybridge", features: Self.avx, detectedCore: "Nehalem", environmentCore: nil).action
                == .switchTo("Sandybridge"))
    }

    @Test func aRightDetectionIsKept() {
        for (cpu, features, core) in [("skylake-avx512", Self.avx512, "SkylakeX"), ("cooperlake", Self.avx512, "Cooperlake"),
                                      ("znver3", Self.avx2, "Zen"), ("haswell", Self.avx2, "Haswell"), ("core2", Self.sse, "Core2")] {
            #expect(BLASCorePolicy.decide(cpuName: cpu, features: features, detectedCore: core, environmentCore: nil).action == .keep, "\(cpu)")
        }
        // Detection above the CPU's class (a CPU whose OS disabled AVX-512 state) is OpenBLAS's call.
        #expect(BLASCorePolicy.decide(cpuName: "x", features: Self.avx2, detectedCore: "SkylakeX", environmentCore: nil).action == .keep)
    }

    @Test func anUnrankedCoreIsKept() {
        let choice = BLASCorePolicy.decide(cpuName: "neoverse-v2", features: [], detectedCore: "NEOVERSEV1", environmentCore: nil)
        #expect(choice.action == .keep)
        #expect(choice.reason.contains("NEOVERSEV1"))
    }

    @Test func aClassSetOnPurposeIsRespectedAndNamedWhenBelow() {
        let below = BLASCorePolicy.decide(cpuName: "sapphirerapids", features: Self.avx512, detectedCore: "Haswell", environmentCore: "Haswell")
        #expect(below.action == .keep)
        #expect(below.reason.contains("OPENBLAS_CORETYPE=Haswell") && below.reason.contains("AVX-512"))
        let same = BLASCorePolicy.decide(cpuName: "znver3", features: Self.avx2, detectedCore: "Zen", environmentCore: "ZEN")
        #expect(same.action == .keep && !same.reason.contains("unset"))
        // An empty variable is no request.
        #expect(BLASCorePolicy.decide(cpuName: "sapphirerapids", features: Self.avx512, detectedCore: "Prescott", environmentCore: "").action
                == .switchTo("SkylakeX"))
    }

    @Test func thisProcessRunsAClassAtLeastItsCPUsUnlessSetOnPurpose() {
        let status = BLASRuntime.ensureCPUKernels()
        #expect(status.library.hasPrefix("OpenBLAS"))
        guard status.source != .environment, status.advice == nil,
              let running = BLASCorePolicy.vectorClass(ofOpenBLASCore: status.core) else { return }
        #expect(running >= HostCPU.current.isa, "OpenBLAS runs \(status.core) on a \(HostCPU.current.isa) CPU")
    }
}

/// Naming the code-generation CPU.
struct TargetCPUTests {
    static let avx2Host = HostCPU(name: "znver3", featureString: "+avx2,+fma,+avx,+sse4.2,-avx512f,-avx512bw,-avx512vl,-avx512dq")
    static let avx512Host = HostCPU(name: "sapphirerapids", featureString: "+avx2,+fma,+avx,+avx512f,+avx512bw,+avx512vl,+avx512dq,-sse4a")

    @Test func aLowerClassIsGeneratedWithWhatTheHostLacksSwitchedOff() throws {
        let target = try TargetCPU.named("haswell", on: Self.avx512Host)
        #expect(target.isa == .avx2 && !target.isHost && target.name == "haswell")
        #expect(target.featureString == "-sse4a")
        let v4 = try TargetCPU.named("x86-64-v4", on: Self.avx512Host)
        #expect(v4.isa == .avx512)
    }

    @Test func aHigherClassOrUnknownNameIsRefused() {
        #expect(throws: BackendError.self) { try TargetCPU.named("skylake-avx512", on: Self.avx2Host) }
        #expect(throws: BackendError.self) { try TargetCPU.named("pentium-mmx-9000", on: Self.avx2Host) }
    }

    @Test func hostAndNativeMeanTheHost() throws {
        for name in ["host", "native", "HOST", "znver3"] {
            let target = try TargetCPU.named(name, on: Self.avx2Host)
            #expect(target.isHost && target.featureString == Self.avx2Host.featureString)
        }
    }
}
