internal import CLLVM
import GraphIR

/// One LLVM context, module and builder: the unit the backend generates, optimises and compiles. Kernels
/// are added with `KernelEmitter`; `HostTarget` turns the module into an object file.
final class IRModule {
    let context: LLVMContextRef
    let module: LLVMModuleRef
    let builder: LLVMBuilderRef
    let i1, i32, i64, f32, f64, pointer, void: LLVMTypeRef
    /// Function attributes every kernel gets: the host CPU and its features, so that the optimiser's cost
    /// model and the code generator agree on the vector width.
    let cpuName: String, cpuFeatures: String
    private var tableCount = 0

    init(name: String, cpuName: String, cpuFeatures: String) {
        context = LLVMContextCreate()
        module = LLVMModuleCreateWithNameInContext(name, context)
        builder = LLVMCreateBuilderInContext(context)
        i1 = LLVMInt1TypeInContext(context)
        i32 = LLVMInt32TypeInContext(context)
        i64 = LLVMInt64TypeInContext(context)
        f32 = LLVMFloatTypeInContext(context)
        f64 = LLVMDoubleTypeInContext(context)
        pointer = LLVMPointerTypeInContext(context, 0)
        void = LLVMVoidTypeInContext(context)
        self.cpuName = cpuName
        self.cpuFeatures = cpuFeatures
    }

    deinit {
        LLVMDisposeBuilder(builder)
        LLVMDisposeModule(module)
        LLVMContextDispose(context)
    }

    func type(of dtype: DType) -> LLVMTypeRef { dtype == .f32 ? f32 : f64 }

    func functionType(_ result: LLVMTypeRef, _ parameters: [LLVMTypeRef]) -> LLVMTypeRef {
        var params: [LLVMTypeRef?] = parameters
        return params.withUnsafeMutableBufferPointer { LLVMFunctionType(result, $0.baseAddress, UInt32(parameters.count), 0) }
    }

    /// A declared external function (libm, BLAS), created on first use.
    func external(_ name: String, _ type: LLVMTypeRef) -> LLVMValueRef {
        if let existing = LLVMGetNamedFunction(module, name) { return existing }
        let function = LLVMAddFunction(module, name, type)!
        addAttribute(function, index: UInt32(bitPattern: Int32(LLVMAttributeFunctionIndex)), "nounwind")
        return function
    }

    func addAttribute(_ function: LLVMValueRef, index: LLVMAttributeIndex, _ name: String) {
        let kind = LLVMGetEnumAttributeKindForName(name, name.utf8.count)
        LLVMAddAttributeAtIndex(function, index, LLVMCreateEnumAttribute(context, kind, 0))
    }

    func addStringAttribute(_ function: LLVMValueRef, _ key: String, _ value: String) {
        let attribute = LLVMCreateStringAttribute(context, key, UInt32(key.utf8.count), value, UInt32(value.utf8.count))
        LLVMAddAttributeAtIndex(function, UInt32(bitPattern: Int32(LLVMAttributeFunctionIndex)), attribute)
    }

    /// Marks a function as code for the host CPU.
    func targetHost(_ function: LLVMValueRef) {
        addStringAttribute(function, "target-cpu", cpuName)
        addStringAttribute(function, "target-features", cpuFeatures)
        addAttribute(function, index: UInt32(bitPattern: Int32(LLVMAttributeFunctionIndex)), "nounwind")
    }

    /// A private constant i64 array (index tables computed at compile time, such as a convolution's valid
    /// output ranges per kernel tap).
    func constantTable(_ values: [Int]) -> (global: LLVMValueRef, type: LLVMTypeRef) {
        tableCount += 1
        var elements: [LLVMValueRef?] = values.map { LLVMConstInt(i64, UInt64(bitPattern: Int64($0)), 1) }
        let arrayType = LLVMArrayType2(i64, UInt64(values.count))!
        let global = LLVMAddGlobal(module, arrayType, "table.\(tableCount)")!
        let initializer = elements.withUnsafeMutableBufferPointer { LLVMConstArray2(i64, $0.baseAddress, UInt64(values.count)) }
        LLVMSetInitializer(global, initializer)
        LLVMSetGlobalConstant(global, 1)
        LLVMSetLinkage(global, LLVMPrivateLinkage)
        LLVMSetUnnamedAddress(global, LLVMGlobalUnnamedAddr)
        return (global, arrayType)
    }

    /// Instructions in the function `name` (0 if there is none): how much work it gives the optimiser.
    func instructionCount(of name: String) -> Int {
        guard let function = LLVMGetNamedFunction(module, name) else { return 0 }
        var count = 0
        var block = LLVMGetFirstBasicBlock(function)
        while let b = block {
            var instruction = LLVMGetFirstInstruction(b)
            while let i = instruction { count += 1; instruction = LLVMGetNextInstruction(i) }
            block = LLVMGetNextBasicBlock(b)
        }
        return count
    }

    /// Checks the module; a failure is a bug in a lowering, reported with LLVM's message.
    func verify() throws(BackendError) {
        var message: UnsafeMutablePointer<CChar>?
        let failed = LLVMVerifyModule(module, LLVMReturnStatusAction, &message) != 0
        defer { LLVMDisposeMessage(message) }
        if failed {
            throw BackendError("internal error: generated LLVM IR does not verify: \(message.map { String(cString: $0) } ?? "")")
        }
    }

    /// The module as LLVM assembly text.
    var text: String {
        guard let raw = LLVMPrintModuleToString(module) else { return "" }
        defer { LLVMDisposeMessage(raw) }
        return String(cString: raw)
    }
}

/// A backend failure: an op with no lowering, LLVM refusing the module, a missing symbol, a bad binding.
public struct BackendError: DescribedError, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Converts an `LLVMErrorRef` into a thrown `BackendError` with `context` prepended.
func check(_ error: LLVMErrorRef?, _ context: String) throws(BackendError) {
    guard let error else { return }
    let raw = LLVMGetErrorMessage(error)
    let message = raw.map { String(cString: $0) } ?? "unknown error"
    LLVMDisposeErrorMessage(raw)
    throw BackendError("\(context): \(message)")
}
