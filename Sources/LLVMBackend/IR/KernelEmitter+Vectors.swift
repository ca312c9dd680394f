internal import CLLVM
import GraphIR

/// Explicit vectors, for kernels that place their own vector work (generated products, gathered
/// transforms) rather than leave it to LLVM's vectorisers. One lane means a scalar throughout, so a
/// remainder can reuse the vector code.
extension KernelEmitter {
    /// `value` in every one of `lanes` lanes (itself for 1).
    func splat(_ value: IRValue, lanes: Int) -> IRValue {
        guard lanes > 1 else { return value }
        let type = LLVMVectorType(value.type, UInt32(lanes))
        let single = LLVMBuildInsertElement(builder, LLVMGetPoison(type), value.ref, LLVMConstInt(ir.i32, 0, 0), "")
        return wrap(LLVMBuildShuffleVector(builder, single, LLVMGetPoison(type), LLVMConstNull(LLVMVectorType(ir.i32, UInt32(lanes))), ""))
    }

    /// Elements index ..< index + lanes of `buffer` as one vector (unaligned; a scalar for 1 lane).
    func loadVector(_ buffer: Int, _ index: IRValue, lanes: Int) -> IRValue {
        if lanes == 1 { return load(buffer, index) }
        let type = LLVMVectorType(ir.type(of: dtype(of: buffer)), UInt32(lanes))
        let value = LLVMBuildLoad2(builder, type, address(buffer, index), "")
        LLVMSetAlignment(value, UInt32(dtype(of: buffer).byteWidth))
        return wrap(value)
    }

    /// Elements index + steps[0], index + steps[1], … of `buffer` as one vector (`llvm.masked.gather`; a
    /// plain load for one step).
    func gather(_ buffer: Int, _ index: IRValue, steps: [Int]) -> IRValue {
        if steps.count == 1 { return load(buffer, index + steps[0]) }
        let element = ir.type(of: dtype(of: buffer)), lanes = UInt32(steps.count)
        var offsets = steps.map { LLVMConstInt(ir.i64, UInt64($0), 0) }
        let indices = LLVMBuildAdd(builder, splat(index, lanes: steps.count).ref, LLVMConstVector(&offsets, lanes), "")
        let pointers = address(buffer, wrap(indices))
        let vectorType = LLVMVectorType(element, lanes), pointerType = LLVMTypeOf(pointers)
        let id = LLVMLookupIntrinsicID("llvm.masked.gather", 18)
        var overloads: [LLVMTypeRef?] = [vectorType, pointerType]
        let (function, type) = overloads.withUnsafeMutableBufferPointer {
            (LLVMGetIntrinsicDeclaration(ir.module, id, $0.baseAddress, 2), LLVMIntrinsicGetType(ir.context, id, $0.baseAddress, 2))
        }
        var all = [LLVMValueRef?](repeating: LLVMConstInt(LLVMInt1TypeInContext(ir.context), 1, 0), count: steps.count)
        var args: [LLVMValueRef?] = [pointers, LLVMConstInt(ir.i32, UInt64(dtype(of: buffer).byteWidth), 0),
                                     LLVMConstVector(&all, lanes), LLVMGetPoison(vectorType)]
        return wrap(args.withUnsafeMutableBufferPointer { LLVMBuildCall2(builder, type, function, $0.baseAddress, 4, "") })
    }

    /// Stores a vector from `loadVector`'s shape over elements index ..< index + lanes.
    func storeVector(_ value: IRValue, _ buffer: Int, _ index: IRValue) {
        guard LLVMGetTypeKind(value.type) == LLVMVectorTypeKind else { return store(value, buffer, index) }
        let stored = LLVMBuildStore(builder, value.ref, address(buffer, index))
        LLVMSetAlignment(stored, UInt32(dtype(of: buffer).byteWidth))
    }

    /// The sum of a vector's lanes (a scalar as it is): halves added until two lanes are left, a fixed order
    /// (every run and thread count gives the same bits).
    func sum(_ vector: IRValue) -> IRValue {
        guard LLVMGetTypeKind(vector.type) == LLVMVectorTypeKind else { return vector }
        var value = vector, lanes = Int(LLVMGetVectorSize(vector.type))
        func shuffle(_ indices: Range<Int>) -> IRValue {
            var mask = indices.map { LLVMConstInt(ir.i32, UInt64($0), 0) }
            return wrap(LLVMBuildShuffleVector(builder, value.ref, LLVMGetPoison(value.type), LLVMConstVector(&mask, UInt32(mask.count)), ""))
        }
        while lanes > 2 {
            value = shuffle(0..<lanes / 2) + shuffle(lanes / 2..<lanes)
            lanes /= 2
        }
        let lane = { (i: Int) in self.wrap(LLVMBuildExtractElement(self.builder, value.ref, LLVMConstInt(self.ir.i32, UInt64(i), 0), "")) }
        return lanes == 1 ? lane(0) : lane(0) + lane(1)
    }
}
