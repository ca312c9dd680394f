internal import CLLVM

/// Facts about the LLVM and BLAS libraries this build links against.
public enum BackendInfo {
    /// LLVM's version as `major.minor.patch`.
    public static var llvmVersion: String {
        var major: UInt32 = 0, minor: UInt32 = 0, patch: UInt32 = 0
        LLVMGetVersion(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// OpenBLAS's build configuration string (library version, kernel, threading).
    public static var blasConfiguration: String { BLASRuntime.status.configuration }
}
