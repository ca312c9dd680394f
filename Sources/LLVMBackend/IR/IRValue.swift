internal import CLLVM

/// A value under construction inside a kernel: an LLVM value plus the emitter that owns it, so the
/// lowerings read like the interpreter's kernels (`x * inv + shift`) while emitting IR.
struct IRValue {
    let ref: LLVMValueRef
    unowned let emitter: KernelEmitter

    /// A float or a vector of floats (the generated products' and transforms' vectors).
    var isFloatingPoint: Bool {
        var type = LLVMTypeOf(ref)
        if LLVMGetTypeKind(type) == LLVMVectorTypeKind { type = LLVMGetElementType(type) }
        let kind = LLVMGetTypeKind(type)
        return kind == LLVMFloatTypeKind || kind == LLVMDoubleTypeKind
    }

    var type: LLVMTypeRef { LLVMTypeOf(ref) }
}

// Arithmetic dispatches on the operands' LLVM type: integers (i64 index arithmetic, no signed wrap) or floats.
extension IRValue {
    static func + (a: IRValue, b: IRValue) -> IRValue {
        let e = a.emitter
        return e.wrap(a.isFloatingPoint ? LLVMBuildFAdd(e.builder, a.ref, b.ref, "") : LLVMBuildNSWAdd(e.builder, a.ref, b.ref, ""))
    }
    static func - (a: IRValue, b: IRValue) -> IRValue {
        let e = a.emitter
        return e.wrap(a.isFloatingPoint ? LLVMBuildFSub(e.builder, a.ref, b.ref, "") : LLVMBuildNSWSub(e.builder, a.ref, b.ref, ""))
    }
    static func * (a: IRValue, b: IRValue) -> IRValue {
        let e = a.emitter
        return e.wrap(a.isFloatingPoint ? LLVMBuildFMul(e.builder, a.ref, b.ref, "") : LLVMBuildNSWMul(e.builder, a.ref, b.ref, ""))
    }
    static func / (a: IRValue, b: IRValue) -> IRValue {
        let e = a.emitter
        return e.wrap(a.isFloatingPoint ? LLVMBuildFDiv(e.builder, a.ref, b.ref, "") : LLVMBuildSDiv(e.builder, a.ref, b.ref, ""))
    }
    static func % (a: IRValue, b: IRValue) -> IRValue { a.emitter.wrap(LLVMBuildSRem(a.emitter.builder, a.ref, b.ref, "")) }
    static prefix func - (a: IRValue) -> IRValue {
        let e = a.emitter
        return e.wrap(a.isFloatingPoint ? LLVMBuildFNeg(e.builder, a.ref, "") : LLVMBuildNeg(e.builder, a.ref, ""))
    }

    // Mixed forms with Swift literals: an Int is an index constant, a Double a constant of the other side's type.
    static func + (a: IRValue, b: Int) -> IRValue { a + a.emitter.constant(b, like: a) }
    static func - (a: IRValue, b: Int) -> IRValue { a - a.emitter.constant(b, like: a) }
    static func * (a: IRValue, b: Int) -> IRValue { a * a.emitter.constant(b, like: a) }
    static func / (a: IRValue, b: Int) -> IRValue { a / a.emitter.constant(b, like: a) }
    static func % (a: IRValue, b: Int) -> IRValue { a % a.emitter.constant(b, like: a) }
    static func + (a: Int, b: IRValue) -> IRValue { b.emitter.constant(a, like: b) + b }
    static func * (a: Int, b: IRValue) -> IRValue { b.emitter.constant(a, like: b) * b }
    static func - (a: Int, b: IRValue) -> IRValue { b.emitter.constant(a, like: b) - b }
    static func + (a: IRValue, b: Double) -> IRValue { a + a.emitter.real(b, like: a) }
    static func - (a: IRValue, b: Double) -> IRValue { a - a.emitter.real(b, like: a) }
    static func * (a: IRValue, b: Double) -> IRValue { a * a.emitter.real(b, like: a) }
    static func / (a: IRValue, b: Double) -> IRValue { a / a.emitter.real(b, like: a) }
    static func * (a: Double, b: IRValue) -> IRValue { b.emitter.real(a, like: b) * b }
    static func / (a: Double, b: IRValue) -> IRValue { b.emitter.real(a, like: b) / b }
    static func - (a: Double, b: IRValue) -> IRValue { b.emitter.real(a, like: b) - b }
}

/// Comparisons produce i1 values for `select` and branches. Float comparisons are ordered (false with NaN),
/// as Swift's `<` is, so the lowerings keep the interpreter's NaN behaviour.
extension IRValue {
    func compare(_ predicate: (LLVMIntPredicate, LLVMRealPredicate), _ other: IRValue) -> IRValue {
        let e = emitter
        return e.wrap(isFloatingPoint ? LLVMBuildFCmp(e.builder, predicate.1, ref, other.ref, "")
                                      : LLVMBuildICmp(e.builder, predicate.0, ref, other.ref, ""))
    }
    func lessThan(_ o: IRValue) -> IRValue { compare((LLVMIntSLT, LLVMRealOLT), o) }
    func greaterThan(_ o: IRValue) -> IRValue { compare((LLVMIntSGT, LLVMRealOGT), o) }
    func greaterEqual(_ o: IRValue) -> IRValue { compare((LLVMIntSGE, LLVMRealOGE), o) }
    func equal(_ o: IRValue) -> IRValue { compare((LLVMIntEQ, LLVMRealOEQ), o) }
    func lessThan(_ o: Double) -> IRValue { lessThan(emitter.real(o, like: self)) }
    func greaterThan(_ o: Double) -> IRValue { greaterThan(emitter.real(o, like: self)) }
    func greaterEqual(_ o: Double) -> IRValue { greaterEqual(emitter.real(o, like: self)) }
    /// True when the value is NaN (unordered with itself).
    var isNaN: IRValue { emitter.wrap(LLVMBuildFCmp(emitter.builder, LLVMRealUNO, ref, ref, "")) }
    func or(_ o: IRValue) -> IRValue { emitter.wrap(LLVMBuildOr(emitter.builder, ref, o.ref, "")) }
    func and(_ o: IRValue) -> IRValue { emitter.wrap(LLVMBuildAnd(emitter.builder, ref, o.ref, "")) }
}
