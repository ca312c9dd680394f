internal import CLLVM
import GraphIR

/// Builds one kernel: an exported `void name(ptr buffers, i64 begin, i64 end)` that loads its buffer
/// pointers and calls an always-inline body taking each buffer as a `noalias` parameter. Inlining turns
/// those into alias scopes, so the vectoriser knows the buffers do not overlap without runtime checks.
/// The body handles the outer iterations `begin ..< end`, which the runtime splits across threads.
final class KernelEmitter {
    let ir: IRModule
    let name: String
    let bufferTypes: [DType]
    let body: LLVMValueRef
    private let entryBlock: LLVMBasicBlockRef
    private var buffers: [LLVMValueRef] = []
    /// The first and one-past-last outer iteration this call handles (or, while `range` is set, those).
    var begin: IRValue { range?.begin ?? wrap(LLVMGetParam(body, UInt32(bufferTypes.count))) }
    var end: IRValue { range?.end ?? wrap(LLVMGetParam(body, UInt32(bufferTypes.count + 1))) }
    /// Narrows a phase's outer iterations, to run another phase's body one iteration at a time
    /// (a convolution's per-plane store followed by its epilogue on the same, cache-hot plane).
    var range: (begin: IRValue, end: IRValue)? = nil

    var builder: LLVMBuilderRef { ir.builder }

    /// While set, buffer `i` of the code being emitted is buffer `bufferMap[i]` of this kernel: a fused
    /// kernel runs another op's lowering over its own buffer list (`KernelPhase.remapped`).
    var bufferMap: [Int]? = nil
    /// The kernel's buffer that buffer `buffer` of the code being emitted is (through `bufferMap`).
    func slot(_ buffer: Int) -> Int { bufferMap?[buffer] ?? buffer }
    /// While set, told of every `store`: the kernel buffer (after `bufferMap`) and the value as stored. A
    /// fused epilogue takes its norm's moments this way while the convolution writes its output.
    var storeObserver: ((_ slot: Int, _ value: IRValue) -> Void)? = nil
    /// While set, loads from buffer `i` (as the code being emitted numbers it) compute the element instead:
    /// a pointwise producer folded into the op that reads it (`fuse-prologue`), never stored.
    var computed: [Int: (IRValue) -> IRValue] = [:]
    /// The element type of buffer `buffer` (as the code being emitted numbers it).
    func dtype(of buffer: Int) -> DType { bufferTypes[slot(buffer)] }

    init(ir: IRModule, name: String, bufferTypes: [DType]) {
        self.ir = ir
        self.name = name
        self.bufferTypes = bufferTypes
        let bodyType = ir.functionType(ir.void, Array(repeating: ir.pointer, count: bufferTypes.count) + [ir.i64, ir.i64])
        body = LLVMAddFunction(ir.module, name + ".body", bodyType)!
        LLVMSetLinkage(body, LLVMInternalLinkage)
        ir.targetHost(body)
        ir.addAttribute(body, index: UInt32(bitPattern: Int32(LLVMAttributeFunctionIndex)), "alwaysinline")
        for i in bufferTypes.indices { ir.addAttribute(body, index: UInt32(i + 1), "noalias") }
        entryBlock = LLVMAppendBasicBlockInContext(ir.context, body, "entry")
        LLVMPositionBuilderAtEnd(ir.builder, entryBlock)
        buffers = bufferTypes.indices.map { LLVMGetParam(body, UInt32($0))! }
        addEntryPoint(bodyType: bodyType)
        LLVMPositionBuilderAtEnd(ir.builder, entryBlock)
    }

    /// The exported wrapper: loads `buffers[i]` and calls the body.
    private func addEntryPoint(bodyType: LLVMTypeRef) {
        let type = ir.functionType(ir.void, [ir.pointer, ir.i64, ir.i64])
        let entry = LLVMAddFunction(ir.module, name, type)!
        ir.targetHost(entry)
        let block = LLVMAppendBasicBlockInContext(ir.context, entry, "entry")
        LLVMPositionBuilderAtEnd(ir.builder, block)
        let table = LLVMGetParam(entry, 0)
        var args: [LLVMValueRef?] = bufferTypes.indices.map { i in
            var index: [LLVMValueRef?] = [LLVMConstInt(ir.i64, UInt64(i), 0)]
            let slot = index.withUnsafeMutableBufferPointer { LLVMBuildInBoundsGEP2(ir.builder, ir.pointer, table, $0.baseAddress, 1, "") }
            return LLVMBuildLoad2(ir.builder, ir.pointer, slot, "")
        }
        args += [LLVMGetParam(entry, 1), LLVMGetParam(entry, 2)]
        _ = args.withUnsafeMutableBufferPointer {
            LLVMBuildCall2(ir.builder, bodyType, body, $0.baseAddress, UInt32($0.count), "")
        }
        LLVMBuildRetVoid(ir.builder)
    }

    /// Closes the body. Call once, after the lowering has emitted everything.
    func finish() { LLVMBuildRetVoid(ir.builder) }

    func wrap(_ ref: LLVMValueRef?) -> IRValue { IRValue(ref: ref!, emitter: self) }

    // MARK: constants and conversions

    /// An i64 constant.
    func index(_ v: Int) -> IRValue { wrap(LLVMConstInt(ir.i64, UInt64(bitPattern: Int64(v)), 1)) }
    func constant(_ v: Int, like other: IRValue) -> IRValue {
        other.isFloatingPoint ? real(Double(v), like: other) : wrap(LLVMConstInt(other.type, UInt64(bitPattern: Int64(v)), 1))
    }
    func real(_ v: Double, _ dtype: DType) -> IRValue { wrap(LLVMConstReal(ir.type(of: dtype), v)) }
    /// A constant of `other`'s type: a float, or the same float in every lane of a vector.
    func real(_ v: Double, like other: IRValue) -> IRValue {
        let type = other.type
        guard LLVMGetTypeKind(type) == LLVMVectorTypeKind else { return wrap(LLVMConstReal(type, v)) }
        var lanes = [LLVMValueRef?](repeating: LLVMConstReal(LLVMGetElementType(type), v), count: Int(LLVMGetVectorSize(type)))
        return wrap(LLVMConstVector(&lanes, UInt32(lanes.count)))
    }

    /// Converts a float between f32 and f64 (or leaves it).
    func convert(_ v: IRValue, to dtype: DType) -> IRValue {
        let target = ir.type(of: dtype)
        if v.type == target { return v }
        return wrap(dtype == .f64 ? LLVMBuildFPExt(builder, v.ref, target, "") : LLVMBuildFPTrunc(builder, v.ref, target, ""))
    }
    func toReal(_ v: IRValue, _ dtype: DType) -> IRValue { wrap(LLVMBuildSIToFP(builder, v.ref, ir.type(of: dtype), "")) }

    func select(_ condition: IRValue, _ a: IRValue, _ b: IRValue) -> IRValue {
        wrap(LLVMBuildSelect(builder, condition.ref, a.ref, b.ref, ""))
    }
    func min(_ a: IRValue, _ b: IRValue) -> IRValue { select(a.lessThan(b), a, b) }
    func max(_ a: IRValue, _ b: IRValue) -> IRValue { select(a.greaterThan(b), a, b) }

    // MARK: memory

    /// Pointer to element `index` of buffer `buffer`.
    func address(_ buffer: Int, _ index: IRValue) -> LLVMValueRef {
        var indices: [LLVMValueRef?] = [index.ref]
        return indices.withUnsafeMutableBufferPointer {
            LLVMBuildInBoundsGEP2(builder, ir.type(of: dtype(of: buffer)), buffers[slot(buffer)], $0.baseAddress, 1, "")
        }!
    }
    func load(_ buffer: Int, _ index: IRValue) -> IRValue {
        if let compute = computed[buffer] {
            // The producer reads this kernel's own buffers, unmapped.
            let (map, inner) = (bufferMap, computed)
            (bufferMap, computed) = (nil, [:])
            defer { (bufferMap, computed) = (map, inner) }
            return compute(index)
        }
        return wrap(LLVMBuildLoad2(builder, ir.type(of: dtype(of: buffer)), address(buffer, index), ""))
    }
    /// Stores `value`, rounding it to the buffer's dtype first (the interpreter's semantics).
    func store(_ value: IRValue, _ buffer: Int, _ index: IRValue) {
        let stored = convert(value, to: dtype(of: buffer))
        LLVMBuildStore(builder, stored.ref, address(buffer, index))
        if let storeObserver {
            // The observer's own stores (if any) must not be observed again.
            self.storeObserver = nil
            storeObserver(slot(buffer), stored)
            self.storeObserver = storeObserver
        }
    }
    /// buffer[index] += value.
    func accumulate(_ value: IRValue, _ buffer: Int, _ index: IRValue) {
        let old = load(buffer, index)
        store(old + convert(value, to: dtype(of: buffer)), buffer, index)
    }
    /// buffer `to`[at ..< at + count] = buffer `from`[source ..< source + count] (same dtype), as one
    /// `llvm.memcpy`: compact code for copies whose length is known only at run time.
    func copy(count: IRValue, from: Int, _ source: IRValue, to: Int, _ at: IRValue) {
        let bytes = count * dtype(of: from).byteWidth
        LLVMBuildMemCpy(builder, address(to, at), 4, address(from, source), 4, bytes.ref)
    }
    /// The raw pointer of a buffer plus an element offset (for BLAS calls).
    func pointer(_ buffer: Int, offset: IRValue) -> IRValue { wrap(address(buffer, offset)) }

    /// Loads entry `i` of a compile-time table.
    func lookup(_ table: (global: LLVMValueRef, type: LLVMTypeRef), _ i: IRValue) -> IRValue {
        var indices: [LLVMValueRef?] = [index(0).ref, i.ref]
        let slot = indices.withUnsafeMutableBufferPointer {
            LLVMBuildInBoundsGEP2(builder, table.type, table.global, $0.baseAddress, 2, "")
        }
        return wrap(LLVMBuildLoad2(builder, ir.i64, slot, ""))
    }

    /// A mutable scalar (an entry-block alloca that mem2reg turns into SSA values).
    final class Variable {
        let slot: LLVMValueRef
        let type: LLVMTypeRef
        unowned let emitter: KernelEmitter
        init(slot: LLVMValueRef, type: LLVMTypeRef, emitter: KernelEmitter) {
            self.slot = slot
            self.type = type
            self.emitter = emitter
        }
        var value: IRValue {
            get { emitter.wrap(LLVMBuildLoad2(emitter.builder, type, slot, "")) }
            set { LLVMBuildStore(emitter.builder, newValue.ref, slot) }
        }
    }

    func variable(_ initial: IRValue) -> Variable {
        let current = LLVMGetInsertBlock(builder)!
        if let first = LLVMGetFirstInstruction(entryBlock) {
            LLVMPositionBuilderBefore(builder, first)
        } else {
            LLVMPositionBuilderAtEnd(builder, entryBlock)
        }
        let slot = LLVMBuildAlloca(builder, initial.type, "")!
        LLVMPositionBuilderAtEnd(builder, current)
        let v = Variable(slot: slot, type: initial.type, emitter: self)
        v.value = initial
        return v
    }

    /// A reassociable f64 accumulator, so the vectoriser may reorder sums (moments, reductions).
    func addReassociable(_ a: IRValue, _ b: IRValue) -> IRValue {
        let sum = a + b
        LLVMSetFastMathFlags(sum.ref, LLVMFastMathFlags(LLVMFastMathAllowReassoc | LLVMFastMathAllowContract))
        return sum
    }

    // MARK: control flow

    /// for i in lo ..< hi { body(i) }. `vectorize: false` keeps the loop vectoriser off this loop: for loops
    /// around a short, fully unrolled scatter-add, which it would otherwise vectorise across rows with
    /// gathers and scatters (AVX-512), ten times slower than the scalar rows.
    /// `compact: true` lets it vectorise but without interleaving or a vectorised remainder: a fraction of the
    /// code (and compile time) for loops too short to need more.
    /// `unroll: false` keeps LLVM from unrolling it: for loops whose body is already explicit vector code (a
    /// generated product's depth loop), where unrolling adds compile time and no speed.
    func loop(_ lo: IRValue, _ hi: IRValue, vectorize: Bool = true, compact: Bool = false, unroll: Bool = true, _ body: (IRValue) -> Void) {
        let counter = variable(lo)
        let function = LLVMGetBasicBlockParent(LLVMGetInsertBlock(builder))
        let header = LLVMAppendBasicBlockInContext(ir.context, function, "loop")
        let inside = LLVMAppendBasicBlockInContext(ir.context, function, "body")
        let exit = LLVMAppendBasicBlockInContext(ir.context, function, "exit")
        LLVMBuildBr(builder, header)
        LLVMPositionBuilderAtEnd(builder, header)
        let i = counter.value
        LLVMBuildCondBr(builder, i.lessThan(hi).ref, inside, exit)
        LLVMPositionBuilderAtEnd(builder, inside)
        body(i)
        counter.value = i + 1
        let latch = LLVMBuildBr(builder, header)
        var properties: [(String, Int)] = !vectorize ? [("llvm.loop.vectorize.enable", 0)]
            : compact ? [("llvm.loop.interleave.count", 1), ("llvm.loop.vectorize.epilogue.enable", 0), ("llvm.loop.unroll.disable", 1)] : []
        if !unroll && !properties.contains(where: { $0.0 == "llvm.loop.unroll.disable" }) { properties.append(("llvm.loop.unroll.disable", 1)) }
        if !properties.isEmpty {
            LLVMSetMetadata(latch, LLVMGetMDKindIDInContext(ir.context, "llvm.loop", 9), loopID(properties))
        }
        LLVMPositionBuilderAtEnd(builder, exit)
    }

    /// A loop ID `!0 = !{!0, !{!"name", value}, …}` (self-referential, so one per loop). Booleans are i1,
    /// counts i32, as LLVM's loop metadata expects.
    private func loopID(_ properties: [(String, Int)]) -> LLVMValueRef {
        var none: [LLVMMetadataRef?] = []
        let placeholder = LLVMTemporaryMDNode(ir.context, &none, 0)
        var operands: [LLVMMetadataRef?] = [placeholder]
        for (key, value) in properties {
            let isCount = key.hasSuffix(".count")
            let type = isCount ? LLVMInt32TypeInContext(ir.context) : LLVMInt1TypeInContext(ir.context)
            if key == "llvm.loop.unroll.disable" {
                var property: [LLVMMetadataRef?] = [LLVMMDStringInContext2(ir.context, key, key.utf8.count)]
                operands.append(LLVMMDNodeInContext2(ir.context, &property, 1))
                continue
            }
            var property: [LLVMMetadataRef?] = [LLVMMDStringInContext2(ir.context, key, key.utf8.count),
                                                LLVMValueAsMetadata(LLVMConstInt(type, UInt64(value), 0))]
            operands.append(LLVMMDNodeInContext2(ir.context, &property, 2))
        }
        let id = LLVMMDNodeInContext2(ir.context, &operands, operands.count)
        LLVMMetadataReplaceAllUsesWith(placeholder, id)
        return LLVMMetadataAsValue(ir.context, id)
    }
    func loop(_ count: Int, _ body: (IRValue) -> Void) { loop(index(0), index(count), body) }
    func loop(_ lo: Int, _ hi: Int, _ body: (IRValue) -> Void) {
        if lo < hi { loop(index(lo), index(hi), body) }
    }

    /// if condition { then() } [else { otherwise() }]
    func ifThen(_ condition: IRValue, _ then: () -> Void, else otherwise: (() -> Void)? = nil) {
        let function = LLVMGetBasicBlockParent(LLVMGetInsertBlock(builder))
        let thenBlock = LLVMAppendBasicBlockInContext(ir.context, function, "then")
        let elseBlock = otherwise == nil ? nil : LLVMAppendBasicBlockInContext(ir.context, function, "else")
        let merge = LLVMAppendBasicBlockInContext(ir.context, function, "merge")
        LLVMBuildCondBr(builder, condition.ref, thenBlock, elseBlock ?? merge)
        LLVMPositionBuilderAtEnd(builder, thenBlock)
        then()
        LLVMBuildBr(builder, merge)
        if let otherwise, let elseBlock {
            LLVMPositionBuilderAtEnd(builder, elseBlock)
            otherwise()
            LLVMBuildBr(builder, merge)
        }
        LLVMPositionBuilderAtEnd(builder, merge)
    }

    // MARK: calls

    /// Calls an LLVM intrinsic overloaded on the type of the first argument (`llvm.sqrt`, `llvm.fabs`, …).
    func intrinsic(_ name: String, _ args: [IRValue]) -> IRValue {
        let id = LLVMLookupIntrinsicID(name, name.utf8.count)
        var overload: [LLVMTypeRef?] = [args[0].type]
        let (function, type) = overload.withUnsafeMutableBufferPointer {
            (LLVMGetIntrinsicDeclaration(ir.module, id, $0.baseAddress, 1), LLVMIntrinsicGetType(ir.context, id, $0.baseAddress, 1))
        }
        var refs: [LLVMValueRef?] = args.map(\.ref)
        return wrap(refs.withUnsafeMutableBufferPointer {
            LLVMBuildCall2(builder, type, function, $0.baseAddress, UInt32($0.count), "")
        })
    }

    /// Calls a C math function by its double name (`tanh`), picking the float variant (`tanhf`) for f32.
    func libm(_ name: String, _ x: IRValue) -> IRValue {
        let isFloat = x.type == ir.f32
        let type = ir.functionType(x.type, [x.type])
        let function = ir.external(isFloat ? name + "f" : name, type)
        var args: [LLVMValueRef?] = [x.ref]
        return wrap(args.withUnsafeMutableBufferPointer { LLVMBuildCall2(builder, type, function, $0.baseAddress, 1, "") })
    }

    /// Calls an external void function.
    func callVoid(_ name: String, _ parameterTypes: [LLVMTypeRef], _ args: [IRValue]) {
        let type = ir.functionType(ir.void, parameterTypes)
        let function = ir.external(name, type)
        var refs: [LLVMValueRef?] = args.map(\.ref)
        _ = refs.withUnsafeMutableBufferPointer { LLVMBuildCall2(builder, type, function, $0.baseAddress, UInt32($0.count), "") }
    }

    func int32(_ v: Int) -> IRValue { wrap(LLVMConstInt(ir.i32, UInt64(bitPattern: Int64(v)), 1)) }
    func int32(_ v: IRValue) -> IRValue { wrap(LLVMBuildTrunc(builder, v.ref, ir.i32, "")) }
}
