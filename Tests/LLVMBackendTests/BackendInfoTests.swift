import Testing
@testable import LLVMBackend

@Test func linksLLVM19AndOpenBLAS() {
    #expect(BackendInfo.llvmVersion.hasPrefix("19."))
    #expect(BackendInfo.blasConfiguration.contains("OpenBLAS"))
}
