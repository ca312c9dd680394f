internal import CLLVM
import Foundation

/// A target machine for the code-generation CPU (the host as LLVM sees it, so AVX2/FMA or AVX-512 as
/// present, or a `TargetCPU` of a class the host can run) at an optimisation level: runs the new pass
/// manager's pipeline and writes assembly or relocatable objects.
final class HostTarget {
    let triple: String
    let cpu: TargetCPU
    var cpuName: String { cpu.name }
    var cpuFeatures: String { cpu.featureString }
    let optimizationLevel: Int
    let machine: LLVMTargetMachineRef

    private static let initialized: Bool = {
        LLVMInitializeNativeTarget() == 0 && LLVMInitializeNativeAsmPrinter() == 0 && LLVMInitializeNativeAsmParser() == 0
    }()

    init(optimizationLevel: Int, cpu: TargetCPU) throws(BackendError) {
        guard HostTarget.initialized else { throw BackendError("LLVM has no native target for this machine") }
        triple = llvmString(LLVMGetDefaultTargetTriple())
        self.cpu = cpu
        self.optimizationLevel = optimizationLevel
        var target: LLVMTargetRef?
        var message: UnsafeMutablePointer<CChar>?
        if LLVMGetTargetFromTriple(triple, &target, &message) != 0 {
            let text = message.map { String(cString: $0) } ?? ""
            LLVMDisposeMessage(message)
            throw BackendError("LLVM cannot target \(triple): \(text)")
        }
        // -O3 optimises the IR fully; machine code generation stays at its default level, as the JIT's own
        // target machine does (measured: cold compile of MUNIT's 64×64 steps 8.1–8.2 → 8.0 s, iterations alike).
        let level: LLVMCodeGenOptLevel = [LLVMCodeGenLevelNone, LLVMCodeGenLevelLess, LLVMCodeGenLevelDefault,
                                          LLVMCodeGenLevelDefault][min(max(optimizationLevel, 0), 3)]
        guard let machine = LLVMCreateTargetMachine(target, triple, cpu.name, cpu.featureString, level, LLVMRelocPIC, LLVMCodeModelDefault) else {
            throw BackendError("LLVM could not create a target machine for \(triple) (\(cpu.name))")
        }
        self.machine = machine
    }

    deinit { LLVMDisposeTargetMachine(machine) }


    /// Sets the module's triple and data layout and runs `default<On>` with loop and SLP vectorisation.
    func optimize(_ ir: IRModule) throws(BackendError) {
        LLVMSetTarget(ir.module, triple)
        let layout = LLVMCreateTargetDataLayout(machine)
        let layoutText = llvmString(LLVMCopyStringRepOfTargetData(layout))
        LLVMDisposeTargetData(layout)
        LLVMSetDataLayout(ir.module, layoutText)
        let options = LLVMCreatePassBuilderOptions()
        defer { LLVMDisposePassBuilderOptions(options) }
        LLVMPassBuilderOptionsSetLoopVectorization(options, optimizationLevel >= 2 ? 1 : 0)
        LLVMPassBuilderOptionsSetSLPVectorization(options, optimizationLevel >= 2 ? 1 : 0)
        LLVMPassBuilderOptionsSetLoopUnrolling(options, optimizationLevel >= 2 ? 1 : 0)
        try check(LLVMRunPasses(ir.module, "default<O\(min(max(optimizationLevel, 0), 3))>", machine, options),
                  "LLVM's optimisation pipeline failed")
    }

    /// Machine code for the module: an ELF relocatable object or assembly text.
    func emit(_ ir: IRModule, assembly: Bool) throws(BackendError) -> Data {
        var buffer: LLVMMemoryBufferRef?
        var message: UnsafeMutablePointer<CChar>?
        if LLVMTargetMachineEmitToMemoryBuffer(machine, ir.module, assembly ? LLVMAssemblyFile : LLVMObjectFile, &message, &buffer) != 0 {
            let text = message.map { String(cString: $0) } ?? ""
            LLVMDisposeMessage(message)
            throw BackendError("LLVM code generation failed: \(text)")
        }
        guard let buffer else { throw BackendError("LLVM code generation returned no output") }
        defer { LLVMDisposeMemoryBuffer(buffer) }
        return Data(bytes: LLVMGetBufferStart(buffer), count: LLVMGetBufferSize(buffer))
    }
}

/// An ORC LLJIT instance holding the compiled objects; symbols from the process (libm, OpenBLAS) resolve
/// through a process search generator.
final class JITSession: @unchecked Sendable {
    private let jit: LLVMOrcLLJITRef

    /// The objects linked together in one library (kernels compiled in one module are called from another).
    init(objects: [Data], target: HostTarget) throws(BackendError) {
        let builder = LLVMOrcCreateLLJITBuilder()
        let machineBuilder = LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(
            LLVMCreateTargetMachine(LLVMGetTargetMachineTarget(target.machine), target.triple, target.cpuName,
                                    target.cpuFeatures, LLVMCodeGenLevelDefault, LLVMRelocPIC, LLVMCodeModelDefault))
        LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, machineBuilder)
        var jit: LLVMOrcLLJITRef?
        try check(LLVMOrcCreateLLJIT(&jit, builder), "could not create the LLVM JIT")
        guard let jit else { throw BackendError("could not create the LLVM JIT") }
        self.jit = jit
        let dylib = LLVMOrcLLJITGetMainJITDylib(jit)
        var generator: LLVMOrcDefinitionGeneratorRef?
        try check(LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&generator, LLVMOrcLLJITGetGlobalPrefix(jit), nil, nil),
                  "could not expose the process's symbols to the JIT")
        LLVMOrcJITDylibAddGenerator(dylib, generator)
        for (part, object) in objects.enumerated() {
            let buffer = object.withUnsafeBytes { raw in
                LLVMCreateMemoryBufferWithMemoryRangeCopy(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, "munitc-kernels-\(part)")
            }
            try check(LLVMOrcLLJITAddObjectFile(jit, dylib, buffer), "the JIT rejected the compiled kernels")
        }
    }

    deinit { _ = LLVMOrcDisposeLLJIT(jit) }

    /// The address of a compiled function (this links the object on first use).
    func address(of symbol: String) throws(BackendError) -> UInt64 {
        var address: LLVMOrcExecutorAddress = 0
        try check(LLVMOrcLLJITLookup(jit, &address, symbol), "the JIT could not find kernel '\(symbol)'")
        return address
    }
}
